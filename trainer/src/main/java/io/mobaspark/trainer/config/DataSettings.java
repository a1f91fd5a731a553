package io.mobaspark.trainer.config;

import java.io.Serializable;

/**
 * The {@code data} section: the dataset folders of the preprocess job. Kept as strings because they
 * are only opened where the run executes; empty means "not configured".
 */
public record DataSettings(String train, String val) implements Serializable {}
