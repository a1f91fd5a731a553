package io.mobaspark.trainer.exchange;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.TreeSet;

/**
 * How one rank of the device {@code shared} kind reaches every other rank's arena, agreed by all
 * ranks when they join (docs/exchange.md, "Ranks of one host"): ranks that are threads of one
 * process read each other's arenas directly (on another device through peer access), ranks of
 * other processes by CUDA IPC. When two devices of one process cannot reach each other, no rank
 * averages on the device and all say why ({@link #hostReason}): the exchange then averages through
 * host memory.
 */
final class ArenaRoutes {
  /** How this rank reads rank r's arena. */
  enum Route {
    /** r is this rank. */
    OWN,
    /** A thread of this process on this rank's device: its pointer as it is. */
    SAME_DEVICE,
    /** A thread of this process on another device: its pointer, after enabling peer access. */
    PEER,
    /** Another process: its CUDA IPC handle, mapped with lazy peer access. */
    IPC
  }

  /**
   * Where a rank runs: its process (the key of its arena registry, {@code
   * DeviceArena.processKey}) and its device's ordinal in that process.
   */
  record Place(String process, int device) {
    static final int BYTES = 16 + 4;

    static Place of(byte[] processKey, int device) {
      return new Place(HexFormat.of().formatHex(processKey), device);
    }

    byte[] bytes() {
      return ByteBuffer.allocate(BYTES).put(HexFormat.of().parseHex(process)).putInt(device)
          .array();
    }

    static Place parse(byte[] bytes) {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      byte[] key = new byte[16];
      b.get(key);
      return of(key, b.getInt());
    }
  }

  /** Whether device {@code from} can read device {@code to}'s memory (a GPU's PeerAccess). */
  @FunctionalInterface
  interface PeerProbe {
    boolean possible(int from, int to);
  }

  private final List<Route> routes;
  private final boolean exportsIpc;
  private final String hostReason;

  private ArenaRoutes(List<Route> routes, boolean exportsIpc, String hostReason) {
    this.routes = routes;
    this.exportsIpc = exportsIpc;
    this.hostReason = hostReason;
  }

  /**
   * This rank's routes from every rank's place, and its process's problem: the pairs of its
   * threads' devices that cannot reach each other (every thread of a process finds the same). Ranks
   * of other processes are not probed here: their IPC mapping fails by itself, naming the arena.
   */
  static ArenaRoutes plan(int rank, List<Place> places, PeerProbe probe) {
    Place mine = places.get(rank);
    List<Route> routes = new ArrayList<>();
    List<Integer> threads = new ArrayList<>();
    TreeSet<Integer> devices = new TreeSet<>();
    for (int r = 0; r < places.size(); r++) {
      Place theirs = places.get(r);
      boolean sameProcess = theirs.process().equals(mine.process());
      if (sameProcess) {
        threads.add(r);
        devices.add(theirs.device());
      }
      routes.add(r == rank ? Route.OWN
          : !sameProcess ? Route.IPC
          : theirs.device() == mine.device() ? Route.SAME_DEVICE : Route.PEER);
    }
    List<String> unreachable = new ArrayList<>();
    for (int from : devices) {
      for (int to : devices) {
        if (from != to && !probe.possible(from, to)) {
          unreachable.add("cuda:" + from + " cannot read cuda:" + to + "'s memory");
        }
      }
    }
    String problem = unreachable.isEmpty() ? null : "ranks " + threads + " are threads of one "
        + "process on devices " + devices + " without peer access between them ("
        + String.join(", ", unreachable) + "; cuDeviceCanAccessPeer is 0)";
    return new ArenaRoutes(List.copyOf(routes), threads.size() < places.size(), problem);
  }

  /**
   * Swaps places with the other ranks of {@code group}, plans this rank's routes and agrees with
   * every rank whether the device path works: if any rank's process found a problem, every rank
   * gets a {@link #hostReason} (its own process's problem, or the ranks that had one).
   */
  static ArenaRoutes agree(SameHostGroup group, Place mine, PeerProbe probe) {
    List<Place> places = new ArrayList<>();
    for (byte[] bytes : group.gather(mine.bytes())) {
      places.add(Place.parse(bytes));
    }
    ArenaRoutes planned = plan(group.rank(), places, probe);
    byte[][] verdicts = group.gather(new byte[] {(byte) (planned.hostReason == null ? 0 : 1)});
    List<Integer> refusing = new ArrayList<>();
    for (int r = 0; r < verdicts.length; r++) {
      if (verdicts[r][0] != 0) {
        refusing.add(r);
      }
    }
    if (refusing.isEmpty() || planned.hostReason != null) {
      return planned;
    }
    return new ArenaRoutes(planned.routes, planned.exportsIpc, "ranks " + refusing + " of another "
        + "process cannot reach each other's devices (peer access; their logs name the devices)");
  }

  /** How this rank reads each rank's arena, by rank. */
  List<Route> routes() {
    return routes;
  }

  /** Whether a rank of another process needs this rank's IPC handle. */
  boolean exportsIpc() {
    return exportsIpc;
  }

  /** Why the ranks cannot average on their devices, or null when they can. */
  String hostReason() {
    return hostReason;
  }
}
