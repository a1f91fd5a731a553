package io.mobaspark.kernels;

import java.util.Arrays;

/** The dimensions of a named row-major tensor; every op checks its operands against these. */
public final class Shape {
  private final String name;
  private final int[] dims;
  private final long numel;

  public Shape(String name, int... dims) {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("tensor name must not be blank");
    }
    if (dims.length == 0) {
      throw new IllegalArgumentException("tensor " + name + " needs at least one dimension");
    }
    long n = 1;
    for (int d : dims) {
      if (d < 0) {
        throw new IllegalArgumentException(
            "tensor " + name + " has a negative dimension: " + Arrays.toString(dims));
      }
      n *= d;
    }
    this.name = name;
    this.dims = dims.clone();
    this.numel = n;
  }

  public String name() {
    return name;
  }

  public int rank() {
    return dims.length;
  }

  public int dim(int axis) {
    return dims[axis];
  }

  public int[] dims() {
    return dims.clone();
  }

  public long numel() {
    return numel;
  }

  /** Throws unless this tensor has exactly the given dimensions. */
  public void require(int... expected) {
    if (!Arrays.equals(dims, expected)) {
      throw new IllegalArgumentException(
          "tensor " + name + " has shape " + Arrays.toString(dims) + ", expected "
              + Arrays.toString(expected));
    }
  }

  /** Throws unless this tensor holds exactly {@code expected} elements (any shape). */
  public void requireNumel(long expected) {
    if (numel != expected) {
      throw new IllegalArgumentException(
          "tensor " + name + " has " + numel + " elements " + Arrays.toString(dims) + ", expected "
              + expected);
    }
  }

  @Override
  public String toString() {
    return name + Arrays.toString(dims);
  }
}
