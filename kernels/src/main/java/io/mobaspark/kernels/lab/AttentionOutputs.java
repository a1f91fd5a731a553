package io.mobaspark.kernels.lab;

/**
 * Host copies of one attention forward and backward: out, dq {@code [T, H, D]}; lse {@code [H, T]};
 * dk, dv {@code [T, Hkv, D]}.
 */
record AttentionOutputs(double[] out, double[] lse, double[] dq, double[] dk, double[] dv) {}
