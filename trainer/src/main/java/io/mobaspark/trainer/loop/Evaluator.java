package io.mobaspark.trainer.loop;

import io.mobaspark.trainer.TrainableModel;

/**
 * Validation loss on the same batches every time: the source is rewound to its first window before
 * each evaluation, so successive val losses differ only because the model changed.
 */
public final class Evaluator {
  private final WindowSource source;
  private final int batches;
  private final int batchSize;
  private final int seqLen;
  private final int documentSeparator;

  /**
   * @param source            the validation windows; its cursor 0 is the first batch
   * @param batches           how many batches each evaluation averages
   * @param documentSeparator end-of-text id for document masking, or -1
   */
  public Evaluator(WindowSource source, int batches, int batchSize, int seqLen,
      int documentSeparator) {
    if (batches < 1) {
      throw new IllegalArgumentException("train.eval_batches must be >= 1, got " + batches);
    }
    this.source = source;
    this.batches = batches;
    this.batchSize = batchSize;
    this.seqLen = seqLen;
    this.documentSeparator = documentSeparator;
  }

  /** Mean validation loss over the fixed batches (each batch has the same number of targets). */
  public double evaluate(TrainableModel model) {
    source.seek(0);
    double sum = 0;
    for (int i = 0; i < batches; i++) {
      TokenBatch batch = TokenBatch.fromWindows(source.next(), batchSize, seqLen, documentSeparator);
      sum += model.evaluate(batch.inputs(), batch.targets(), batch.layout());
    }
    return sum / batches;
  }
}
