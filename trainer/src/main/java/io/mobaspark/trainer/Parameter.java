package io.mobaspark.trainer;

import io.mobaspark.kernels.Tensor;

/**
 * One trainable tensor with its gradient buffer.
 *
 * @param name     the safetensors name, e.g. {@code layers.0.attn.wq.weight} (docs/model.md)
 * @param value    the weights (fp32 master weights): what the optimizer updates and checkpoints store
 * @param grad     the accumulated gradient (fp32), same shape
 * @param decay    whether AdamW applies weight decay (matrices and embeddings only)
 * @param compute  what the forward and backward read: {@code value} itself, or its bf16 copy on a
 *                 mixed-precision backend, refreshed from {@code value} before each forward pass
 */
public record Parameter(String name, Tensor value, Tensor grad, boolean decay, Tensor compute) {

  /** A parameter whose ops read the master weights directly (float32 backends). */
  public Parameter(String name, Tensor value, Tensor grad, boolean decay) {
    this(name, value, grad, decay, value);
  }

  /** Whether {@link #compute} is a separate low-precision copy of {@link #value}. */
  public boolean hasComputeCopy() {
    return compute != value;
  }
}
