package io.mobaspark.trainer.exchange;

import java.io.IOException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The control side of the {@code shared} kind (docs/exchange.md, "Ranks of one host"): the ranks
 * meet once, all on one host, through rank 0's local socket; every other rank connects and
 * authenticates with the run secret ({@link Handshake}), and only then learns where the shared
 * memory is ({@link #broadcast}) or swaps devices and arenas ({@link #gather}). The connections stay
 * open after that, carrying nothing, so that a rank that ends is noticed at once ({@link #gone})
 * instead of after the timeout.
 *
 * <p>Star-shaped: rank 0 holds a channel to every other rank, each other rank one to rank 0.
 */
final class SameHostGroup implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(SameHostGroup.class.getName());
  private static final String LOCAL = " local=";

  private final ExchangeSpec spec;
  private final int rank;
  /** Rank 0: index r holds rank r's channel (index 0 null); other ranks: index 0, rank 0's. */
  private final PeerChannel[] channels;

  private SameHostGroup(ExchangeSpec spec, int rank, PeerChannel[] channels) {
    this.spec = spec;
    this.rank = rank;
    this.channels = channels;
  }

  /**
   * Joins the group: rank 0 listens on a fresh local socket and offers its path in the rendezvous,
   * the other ranks offer their host; then every rank checks that all hosts are one.
   *
   * @throws IllegalArgumentException naming the hosts when the ranks are not all on one host
   * @throws ExchangeException when a rank does not join within the timeout; rank 0's message lists
   *     the connections it refused (a wrong secret, a stray client)
   */
  static SameHostGroup join(ExchangeSpec spec, int rank, String host, Rendezvous rendezvous) {
    if (host == null || host.isBlank() || rendezvous == null) {
      throw new IllegalArgumentException("the shared exchange needs this rank's host and a "
          + "rendezvous, got host '" + host + "' and rendezvous " + rendezvous);
    }
    LocalListener listener = rank == 0 ? LocalListener.open("shared exchange, rank 0") : null;
    try {
      // Rank 0 without a local socket offers an empty path: every rank then fails saying why.
      String offer = rank != 0 ? host : host + LOCAL + (listener == null ? "" : listener.path());
      List<String> offers = rendezvous.allGather(offer);
      Path socket = rankZeroSocket(spec, rank, offers);
      if (rank == 0) {
        return new SameHostGroup(spec, rank, acceptAll(spec, listener));
      }
      PeerChannel zero;
      try {
        zero = PeerChannel.connectLocal(socket, "the local socket on " + host, "rank " + rank,
            "rank 0", spec);
      } catch (IOException e) {
        throw new ExchangeException("rank " + rank + ": cannot connect to rank 0's local socket "
            + socket + ": " + e, e);
      }
      try {
        Handshake.client(zero, spec, rank, 0);
      } catch (RuntimeException e) {
        zero.close();
        throw e;
      }
      return new SameHostGroup(spec, rank, new PeerChannel[] {zero});
    } finally {
      if (listener != null) {
        listener.close();
      }
    }
  }

  /**
   * Checks the rendezvous' offers: one per rank, all on one host, rank 0's local socket visible
   * here (executors in separate containers of one machine may not share a temp folder).
   */
  private static Path rankZeroSocket(ExchangeSpec spec, int rank, List<String> offers) {
    if (offers == null || offers.size() != spec.worldSize()) {
      throw new ExchangeException("rank " + rank + ": the rendezvous returned " + offers
          + ", expected " + spec.worldSize() + " addresses");
    }
    List<String> hosts = new ArrayList<>();
    for (String offer : offers) {
      int at = offer.indexOf(LOCAL);
      hosts.add(at < 0 ? offer : offer.substring(0, at));
    }
    if (hosts.stream().distinct().count() > 1) {
      StringBuilder byRank = new StringBuilder();
      for (int r = 0; r < hosts.size(); r++) {
        byRank.append(r == 0 ? "" : ", ").append("rank ").append(r).append(": ")
            .append(hosts.get(r));
      }
      throw new IllegalArgumentException("exchange.kind = shared needs all " + spec.worldSize()
          + " ranks on one host, but they are on " + hosts.stream().distinct().count()
          + " hosts (" + byRank + "); use ring or driver across hosts");
    }
    String zero = offers.get(0);
    int at = zero.indexOf(LOCAL);
    String path = at < 0 ? "" : zero.substring(at + LOCAL.length());
    if (path.isEmpty()) {
      throw new ExchangeException("rank " + rank + ": rank 0 could not open a local socket in its "
          + "temp folder, which the shared exchange needs (see rank 0's log)");
    }
    Path socket = Path.of(path);
    if (rank != 0 && !Files.exists(socket)) {
      throw new ExchangeException("rank " + rank + ": rank 0's local socket " + socket + " is not "
          + "visible here: the ranks do not share a temp folder (separate containers?); the "
          + "shared exchange needs one, use ring otherwise");
    }
    return socket;
  }

  /** Rank 0: accepts and authenticates every other rank, once each, within the timeout. */
  private static PeerChannel[] acceptAll(ExchangeSpec spec, LocalListener listener) {
    PeerChannel[] channels = new PeerChannel[spec.worldSize()];
    List<String> refusals = new ArrayList<>();
    long deadline = System.nanoTime() + spec.timeoutMillis() * 1_000_000L;
    int joined = 1;
    boolean done = false;
    try (Selector selector = Selector.open()) {
      listener.server().configureBlocking(false);
      listener.server().register(selector, SelectionKey.OP_ACCEPT);
      while (joined < spec.worldSize()) {
        long remainingMillis = (deadline - System.nanoTime()) / 1_000_000L;
        if (remainingMillis < 1) {
          throw new ExchangeException("rank 0: " + missing(channels) + " did not join the shared "
              + "exchange within " + spec.timeoutMillis() + " ms"
              + (refusals.isEmpty() ? "" : "; refused meanwhile: " + refusals));
        }
        selector.select(remainingMillis);
        selector.selectedKeys().clear();
        SocketChannel socket;
        while ((socket = listener.server().accept()) != null) {
          PeerChannel channel = admit(socket, spec, channels, refusals);
          if (channel != null) {
            joined++;
          }
        }
      }
      done = true;
      return channels;
    } catch (IOException | ClosedSelectorException e) {
      throw new ExchangeException("rank 0: accepting at " + listener.path() + " failed: " + e, e);
    } finally {
      if (!done) {
        closeAll(channels);
      }
    }
  }

  /** An authenticated rank not seen before, or null (refused, logged and listed). */
  private static PeerChannel admit(SocketChannel socket, ExchangeSpec spec,
      PeerChannel[] channels, List<String> refusals) {
    try {
      PeerChannel channel = PeerChannel.accepted(socket, "the local socket", "rank 0", spec);
      int client = Handshake.server(channel, spec, 0, PeerChannel.ANY);
      if (client == 0 || channels[client] != null) {
        channel.closeWith(FrameType.ABORT, 0, "rank " + client + " has joined already");
        throw new ExchangeException("rank 0: refused a second rank " + client);
      }
      channels[client] = channel;
      return channel;
    } catch (ExchangeException e) {
      LOG.log(System.Logger.Level.WARNING, e.getMessage());
      refusals.add(e.getMessage());
    } catch (IOException e) {
      PeerChannel.closeQuietly(socket);
      refusals.add("rank 0: cannot set up a connection: " + e);
    }
    return null;
  }

  private static String missing(PeerChannel[] channels) {
    List<Integer> ranks = new ArrayList<>();
    for (int r = 1; r < channels.length; r++) {
      if (channels[r] == null) {
        ranks.add(r);
      }
    }
    return (ranks.size() == 1 ? "rank " : "ranks ") + ranks;
  }

  int rank() {
    return rank;
  }

  int worldSize() {
    return spec.worldSize();
  }

  /**
   * Rank 0 sends {@code payload} to every other rank, which returns it (rank 0 returns its own).
   *
   * @param payload rank 0's bytes (1..{@value FrameType#MAX_TEXT_BYTES}); ignored elsewhere
   */
  byte[] broadcast(byte[] payload) {
    String where = "setting up the shared exchange";
    if (rank == 0) {
      for (int r = 1; r < channels.length; r++) {
        channels[r].write(frame(payload.length), payload, where);
      }
      return payload;
    }
    return read(channels[0], 0, where);
  }

  /**
   * Every rank's {@code mine}, all of one length, by rank: the others send theirs to rank 0, which
   * sends the concatenation back.
   */
  byte[][] gather(byte[] mine) {
    String where = "swapping the ranks' devices and arenas";
    int n = spec.worldSize();
    byte[] all = new byte[n * mine.length];
    if (rank == 0) {
      System.arraycopy(mine, 0, all, 0, mine.length);
      for (int r = 1; r < n; r++) {
        byte[] theirs = read(channels[r], r, where);
        if (theirs.length != mine.length) {
          throw new ExchangeException("rank 0: rank " + r + " sent " + theirs.length
              + " bytes, expected " + mine.length);
        }
        System.arraycopy(theirs, 0, all, r * mine.length, mine.length);
      }
      broadcast(all);
    } else {
      channels[0].write(frame(mine.length), mine, where);
      all = read(channels[0], 0, where);
    }
    byte[][] byRank = new byte[n][mine.length];
    for (int r = 0; r < n; r++) {
      System.arraycopy(all, r * mine.length, byRank[r], 0, mine.length);
    }
    return byRank;
  }

  private Frame frame(int length) {
    return new Frame(FrameType.ARENA, spec.wire(), 0, rank, 0, 0, 0, length);
  }

  private byte[] read(PeerChannel channel, int from, String where) {
    Frame frame = channel.expect(channel.readHeader(where, false), FrameType.ARENA, from, 0, 0, 0,
        -1, where);
    byte[] payload = new byte[frame.length()];
    channel.readPayload(frame, payload, where);
    return payload;
  }

  /**
   * Whether rank {@code peer}'s connection is closed, which means its process ended or it closed
   * its exchange; false for a rank this one holds no channel to (rank 0 holds all).
   */
  boolean gone(int peer) {
    PeerChannel channel = rank == 0 ? channels[peer] : peer == 0 ? channels[0] : null;
    return channel != null && channel.peerGone();
  }

  @Override
  public void close() {
    closeAll(channels);
  }

  private static void closeAll(PeerChannel[] channels) {
    for (PeerChannel channel : channels) {
      if (channel != null) {
        channel.close();
      }
    }
  }
}
