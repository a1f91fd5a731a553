package io.mobaspark.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.AttentionKind;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.testing.GradCheck;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The limits that tie the three kinds together (MOBA.md, semantics 5): MoBA whose topk covers every
 * block, and sliding attention whose window covers the sequence, are dense causal attention; and a
 * packed batch computes each document exactly as if it ran alone.
 */
class MobaDenseEquivalenceTest {
  private static final double TOLERANCE = 1e-12;

  private static CpuBackend backend;

  @BeforeAll
  static void open() {
    backend = new CpuBackend(Precision.FLOAT64, 2);
  }

  @AfterAll
  static void close() {
    backend.close();
  }

  /** Layout, heads, kv heads, block size. Awkward lengths, partial last blocks, a 1-token doc. */
  static Stream<Arguments> shapes() {
    return Stream.of(
        Arguments.of(SeqLayout.of(0, 1), 1, 1, 16),
        Arguments.of(SeqLayout.of(0, 113), 4, 2, 16),
        Arguments.of(SeqLayout.of(0, 1023), 2, 1, 64),
        Arguments.of(SeqLayout.of(0, 50, 51, 90), 4, 4, 8),
        Arguments.of(SeqLayout.of(0, 20), 4, 1, 1));
  }

  @ParameterizedTest
  @MethodSource("shapes")
  void mobaWithTopkCoveringAllBlocksIsDense(SeqLayout layout, int heads, int kvHeads, int block) {
    int blocks = (layout.maxLength() + block - 1) / block;
    AttentionProblem moba =
        new AttentionProblem(AttentionConfig.moba(heads, kvHeads, 4, block, blocks), layout, 7);
    moba.route(backend);
    assertSameAttention(moba.with(AttentionConfig.dense(heads, kvHeads, 4)), moba);
  }

  @ParameterizedTest
  @MethodSource("shapes")
  void slidingWithWindowCoveringTheSequenceIsDense(SeqLayout layout, int heads, int kvHeads,
      int unusedBlock) {
    AttentionConfig sliding = AttentionConfig.sliding(heads, kvHeads, 4, layout.maxLength());
    AttentionProblem window = new AttentionProblem(sliding, layout, 8);
    assertSameAttention(window.with(AttentionConfig.dense(heads, kvHeads, 4)), window);
  }

  static Stream<Arguments> kinds() {
    return Stream.of(
        Arguments.of(AttentionConfig.dense(4, 2, 4)),
        Arguments.of(AttentionConfig.sliding(4, 2, 4, 5)),
        Arguments.of(AttentionConfig.moba(4, 2, 4, 4, 2)),
        Arguments.of(AttentionConfig.moba(2, 1, 4, 3, 1)));
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void packedDocumentsAreIndependent(AttentionConfig config) {
    int[] cuSeqlens = {0, 1, 38, 102, 122};
    SeqLayout packed = SeqLayout.of(cuSeqlens);
    AttentionProblem batch = new AttentionProblem(config, packed, 9);
    double[] dOut = GradCheck.random(10, batch.q.length, 1.0);
    if (config.kind() == AttentionKind.MOBA) {
      batch.route(backend);
    }
    AttentionProblem.Forward batchForward = batch.forward(backend);
    AttentionProblem.Gradients batchGrads = batch.backward(backend, dOut);

    for (int s = 0; s < packed.sequences(); s++) {
      Slicer doc = new Slicer(packed.start(s), packed.length(s), config);
      AttentionProblem alone = new AttentionProblem(config, SeqLayout.of(0, packed.length(s)), 0);
      doc.copyOut(batch.q, alone.q, config.heads());
      doc.copyOut(batch.k, alone.k, config.kvHeads());
      doc.copyOut(batch.v, alone.v, config.kvHeads());
      if (config.kind() == AttentionKind.MOBA) {
        alone.route(backend);
        assertArrayEquals(doc.routingOf(batch), alone.routing, "routing of document " + s);
      }
      AttentionProblem.Forward f = alone.forward(backend);
      AttentionProblem.Gradients g = alone.backward(backend, doc.slice(dOut, config.heads()));
      String what = " of document " + s;
      GradCheck.assertClose("out" + what, doc.slice(batchForward.out(), config.heads()), f.out(),
          0, TOLERANCE);
      GradCheck.assertClose("dq" + what, doc.slice(batchGrads.dq(), config.heads()), g.dq(), 0,
          TOLERANCE);
      GradCheck.assertClose("dk" + what, doc.slice(batchGrads.dk(), config.kvHeads()), g.dk(), 0,
          TOLERANCE);
      GradCheck.assertClose("dv" + what, doc.slice(batchGrads.dv(), config.kvHeads()), g.dv(), 0,
          TOLERANCE);
    }
  }

  private static void assertSameAttention(AttentionProblem dense, AttentionProblem other) {
    AttentionProblem.Forward expected = dense.forward(backend);
    AttentionProblem.Forward actual = other.forward(backend);
    GradCheck.assertClose("out", expected.out(), actual.out(), 0, TOLERANCE);
    GradCheck.assertClose("lse", expected.lse(), actual.lse(), 0, TOLERANCE);
    double[] dOut = GradCheck.random(3, dense.q.length, 1.0);
    AttentionProblem.Gradients expectedGrads = dense.backward(backend, dOut);
    AttentionProblem.Gradients actualGrads = other.backward(backend, dOut);
    GradCheck.assertClose("dq", expectedGrads.dq(), actualGrads.dq(), 0, TOLERANCE);
    GradCheck.assertClose("dk", expectedGrads.dk(), actualGrads.dk(), 0, TOLERANCE);
    GradCheck.assertClose("dv", expectedGrads.dv(), actualGrads.dv(), 0, TOLERANCE);
  }

  /** Cuts one document's rows out of packed {@code [T, heads, D]} or {@code [H, T, topk]}. */
  private record Slicer(int start, int length, AttentionConfig config) {
    double[] slice(double[] packed, int heads) {
      int row = heads * config.headDim();
      return Arrays.copyOfRange(packed, start * row, (start + length) * row);
    }

    void copyOut(double[] packed, double[] alone, int heads) {
      System.arraycopy(slice(packed, heads), 0, alone, 0, alone.length);
    }

    int[] routingOf(AttentionProblem batch) {
      int topk = config.topk();
      int[] rows = new int[config.heads() * length * topk];
      for (int h = 0; h < config.heads(); h++) {
        System.arraycopy(batch.routing, (h * batch.tokens() + start) * topk, rows,
            h * length * topk, length * topk);
      }
      return rows;
    }
  }
}
