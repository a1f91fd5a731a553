package io.mobaspark.trainer.exchange;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The aggregation endpoint of the {@code driver} exchange, hosted by the Spark driver and started
 * before the training stage. Accepts connections, authenticates each on its own thread, and when
 * every rank of the world has joined runs a {@link DriverSession} for them. It outlives sessions: a
 * retried stage or the next segment of a run connects again and gets a new session.
 *
 * <p>Refused connections (wrong secret, other terms, malformed frames) are logged and kept in
 * {@link #refusals()}; the refused peer is told why.
 */
public final class DriverAggregator implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(DriverAggregator.class.getName());
  private static final int KEPT_REFUSALS = 100;

  private final ExchangeSpec spec;
  private final ServerSocketChannel server;
  /** Where ranks on the driver's host connect (null: TCP only), served by its own acceptor. */
  private final LocalListener local;
  private final ExecutorService handshakes;
  private final Thread acceptor;
  private final Thread localAcceptor;
  private final Thread sessions;
  /** Authenticated ranks waiting for the rest of their world, by rank. */
  private final PeerChannel[] lobby;
  private final BlockingQueue<PeerChannel[]> ready = new LinkedBlockingQueue<>();
  private final Deque<String> refusals = new ArrayDeque<>();
  private volatile DriverSession current;
  private volatile boolean closed;

  private DriverAggregator(ExchangeSpec spec, ServerSocketChannel server, LocalListener local) {
    this.spec = spec;
    this.server = server;
    this.local = local;
    this.lobby = new PeerChannel[spec.worldSize()];
    this.handshakes = Executors.newCachedThreadPool(r -> daemon(r, "exchange-handshake"));
    this.acceptor = daemon(() -> acceptLoop(server), "exchange-accept " + address());
    this.localAcceptor = local == null ? null
        : daemon(() -> acceptLoop(local.server()), "exchange-accept-local " + address());
    this.sessions = daemon(this::sessionLoop, "exchange-driver " + spec.driverAddress());
  }

  /**
   * Binds to {@code host:port} ({@code port} 0: an ephemeral port) and starts serving.
   *
   * @param host the driver's address as the executors reach it; it is also what {@link #spec()}
   *     advertises
   */
  public static DriverAggregator start(String host, int port, int worldSize, String secret,
      int bucketBytes, WireDType wire, int timeoutMillis) {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be in 0..65535, got " + port);
    }
    ServerSocketChannel server;
    try {
      server = PeerChannel.listen(host, port);
    } catch (IOException e) {
      throw new ExchangeException("driver: cannot listen on " + host + ":" + port + ": " + e, e);
    }
    String address;
    try {
      address = HostPort.format((InetSocketAddress) server.getLocalAddress());
    } catch (IOException e) {
      PeerChannel.closeQuietly(server);
      throw new ExchangeException("driver: cannot read the address bound on " + host + ": " + e, e);
    }
    LocalListener local = LocalListener.open("driver " + address);
    ExchangeSpec spec = new ExchangeSpec(ExchangeSpec.Kind.DRIVER, worldSize,
        new PeerAddress(address, local == null ? null : local.path()).format(), secret,
        bucketBytes, wire, timeoutMillis);
    DriverAggregator aggregator = new DriverAggregator(spec, server, local);
    aggregator.acceptor.start();
    if (local != null) {
      aggregator.localAcceptor.start();
    }
    aggregator.sessions.start();
    LOG.log(System.Logger.Level.INFO, "gradient exchange driver listening: " + spec);
    return aggregator;
  }

  /** The spec the training tasks get: kind DRIVER, this endpoint's address. */
  public ExchangeSpec spec() {
    return spec;
  }

  /** {@code host:port} the ranks connect to (those on this host through its local socket). */
  public String address() {
    return PeerAddress.parse("driverAddress", spec.driverAddress()).hostPort();
  }

  /** Why recent connections were refused, oldest first (the last {@value #KEPT_REFUSALS}). */
  public List<String> refusals() {
    synchronized (refusals) {
      return new ArrayList<>(refusals);
    }
  }

  private void acceptLoop(ServerSocketChannel server) {
    while (!closed) {
      try {
        SocketChannel socket = server.accept();
        handshakes.submit(() -> admit(socket));
      } catch (IOException e) {
        if (!closed) {
          LOG.log(System.Logger.Level.WARNING, "driver: accept failed on " + address() + ": " + e);
        }
      }
    }
  }

  private void admit(SocketChannel socket) {
    PeerChannel channel;
    try {
      channel = PeerChannel.accepted(socket,
          socket.getRemoteAddress() instanceof InetSocketAddress inet ? HostPort.format(inet)
              : "the local socket on " + PeerAddress.host(address()), "driver", spec);
    } catch (IOException e) {
      PeerChannel.closeQuietly(socket);
      refuse("driver: cannot set up a connection: " + e);
      return;
    }
    int rank;
    try {
      rank = Handshake.server(channel, spec, -1, PeerChannel.ANY);
    } catch (ExchangeException e) {
      refuse(e.getMessage());
      return;
    }
    join(rank, channel);
  }

  /**
   * Adds a rank to the lobby; a full lobby becomes a session. A rank that reconnects replaces its
   * stale connection (a retried task whose predecessor's socket is not closed yet).
   */
  private synchronized void join(int rank, PeerChannel channel) {
    if (closed) {
      channel.close();
      return;
    }
    if (lobby[rank] != null) {
      LOG.log(System.Logger.Level.WARNING, "driver: rank " + rank + " connected again from "
          + channel.peer() + "; dropping its earlier connection " + lobby[rank].peer());
      lobby[rank].close();
    }
    lobby[rank] = channel;
    for (PeerChannel member : lobby) {
      if (member == null) {
        return;
      }
    }
    ready.add(lobby.clone());
    Arrays.fill(lobby, null);
  }

  private void sessionLoop() {
    while (!closed) {
      PeerChannel[] ranks;
      try {
        ranks = ready.take();
      } catch (InterruptedException e) {
        return;
      }
      current = new DriverSession(spec, ranks);
      if (closed) {
        current.close();
        return;
      }
      current.run();
      current = null;
    }
  }

  private void refuse(String reason) {
    LOG.log(System.Logger.Level.WARNING, reason);
    synchronized (refusals) {
      if (refusals.size() == KEPT_REFUSALS) {
        refusals.removeFirst();
      }
      refusals.addLast(reason);
    }
  }

  private static Thread daemon(Runnable task, String name) {
    Thread thread = new Thread(task, name);
    thread.setDaemon(true);
    return thread;
  }

  /** Stops accepting and closes every connection; ranks still training see their reads fail. */
  @Override
  public void close() {
    closed = true;
    PeerChannel.closeQuietly(server);
    if (local != null) {
      local.close();
    }
    handshakes.shutdownNow();
    sessions.interrupt();
    DriverSession session = current;
    if (session != null) {
      session.close();
    }
    synchronized (this) {
      for (PeerChannel member : lobby) {
        if (member != null) {
          member.close();
        }
      }
    }
    for (PeerChannel[] waiting : ready) {
      for (PeerChannel member : waiting) {
        member.close();
      }
    }
  }
}
