package io.mobaspark.trainer.checkpoint;

/** The safetensors element types this project reads and writes; {@code name()} is the format's tag. */
public enum DType {
  F32(4),
  F64(8),
  I32(4);

  private final int bytes;

  DType(int bytes) {
    this.bytes = bytes;
  }

  /** Bytes per element. */
  public int bytes() {
    return bytes;
  }

  public boolean isFloat() {
    return this != I32;
  }
}
