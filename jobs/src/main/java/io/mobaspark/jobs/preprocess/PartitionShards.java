package io.mobaspark.jobs.preprocess;

import io.mobaspark.data.shard.ShardInfo;
import java.io.Serializable;
import java.util.List;

/**
 * What one preprocess task wrote: its shards of each split, in order, and what it read.
 *
 * @param partition the Spark partition index (the driver lists shards in partition order)
 * @param files input files read
 * @param documents non-empty documents after chunking, both splits
 * @param bytes UTF-8 bytes read
 */
record PartitionShards(int partition, List<ShardInfo> train, List<ShardInfo> val, long files,
    long documents, long bytes) implements Serializable {}
