package io.mobaspark.trainer.loop;

import java.io.Serializable;

/**
 * What a training run reports back to its caller (the Spark job returns it to the driver).
 *
 * @param step           optimizer steps completed in total, across resumed segments
 * @param stepsThisRun   steps this call trained (0 when the run was already complete)
 * @param trainLoss      loss of the last step, NaN when no step was ever taken
 * @param valLoss        the latest validation loss, NaN when none was measured
 * @param tokens         training target tokens consumed in total
 * @param seconds        training wall time in total, across resumed segments
 * @param parameters     trainable parameters of the model
 */
public record TrainSummary(int step, int stepsThisRun, double trainLoss, double valLoss,
    long tokens, double seconds, long parameters) implements Serializable {}
