package io.mobaspark.kernels;

/**
 * Storage precision of the CPU backend. Arithmetic always accumulates in double; FLOAT32 rounds every
 * op's output to the nearest float, which is exactly float32 storage, FLOAT64 keeps the full double
 * (finite-difference gradient checks and the float64 reference of the GPU tolerance policy).
 */
public enum Precision {
  FLOAT32,
  FLOAT64
}
