package io.mobaspark.trainer.exchange;

import java.util.List;

/**
 * The one-time address swap of a ring: every rank offers its own {@code host:port} and gets all of
 * them, indexed by rank. In a Spark barrier task this is {@code BarrierTaskContext.allGather}.
 */
@FunctionalInterface
public interface Rendezvous {
  List<String> allGather(String ownAddress);
}
