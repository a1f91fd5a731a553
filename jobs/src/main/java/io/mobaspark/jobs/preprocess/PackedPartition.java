package io.mobaspark.jobs.preprocess;

import io.mobaspark.data.shard.ShardInfo;
import java.io.Serializable;
import java.util.List;

/**
 * What one packing task wrote: its shards of each split, in order (public: Spark's encoder for the
 * task results requires it).
 *
 * @param train shards written into the training split's folder
 * @param val shards written into the validation split's folder
 * @param copies documents within the length limits that the task's unique documents stand for,
 *     duplicates included
 */
public record PackedPartition(List<ShardInfo> train, List<ShardInfo> val, long copies)
    implements Serializable {
  public PackedPartition {
    train = List.copyOf(train);
    val = List.copyOf(val);
  }
}
