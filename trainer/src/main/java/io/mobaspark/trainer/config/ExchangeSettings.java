package io.mobaspark.trainer.config;

import io.mobaspark.trainer.exchange.ExchangeSpec;
import io.mobaspark.trainer.exchange.WireDType;
import java.io.Serializable;

/**
 * The {@code exchange} section: how the ranks of a data-parallel run average their gradients
 * (docs/exchange.md). Unused when {@code run.ranks = 1}.
 *
 * @param kind          {@code DRIVER} or {@code RING}
 * @param bucketBytes   fp32 gradient bytes per bucket
 * @param wire          the dtype on the wire
 * @param timeoutMillis the longest a rank waits for a peer
 * @param port          the driver aggregator's port, 0 = any free one
 */
public record ExchangeSettings(ExchangeSpec.Kind kind, int bucketBytes, WireDType wire,
    int timeoutMillis, int port) implements Serializable {}
