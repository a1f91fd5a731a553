package io.mobaspark.trainer;

import io.mobaspark.kernels.Tensor;

/**
 * One trainable tensor with its gradient buffer.
 *
 * @param name   the safetensors name, e.g. {@code layers.0.attn.wq.weight} (docs/model.md)
 * @param value  the weights (fp32 master weights)
 * @param grad   the accumulated gradient, same shape
 * @param decay  whether AdamW applies weight decay (matrices and embeddings only)
 */
public record Parameter(String name, Tensor value, Tensor grad, boolean decay) {}
