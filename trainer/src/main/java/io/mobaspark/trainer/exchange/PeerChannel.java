package io.mobaspark.trainer.exchange;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One authenticated-or-about-to-be TCP connection with framed reads and writes. Reads run on the
 * caller's thread under the socket's read timeout; writes may run on the channel's own sender thread
 * ({@link #sendAsync}) so that a rank can send and receive at once: with blocking sockets, two peers
 * that both only write would fill each other's buffers and deadlock.
 *
 * <p>Every error names this side ({@code self}), the peer and what was under way ({@code where}).
 * A broken stream closes the channel; a frame that breaks the protocol leaves closing to the caller,
 * which may first tell the peer why ({@link #closeWith}).
 */
final class PeerChannel implements AutoCloseable {
  /** Matches any step, bucket or part in {@link #expect}. */
  static final int ANY = Integer.MIN_VALUE;
  private static final int SOCKET_BUFFER_BYTES = 4 << 20;
  private static final int STREAM_BUFFER_BYTES = 64 << 10;

  private final Socket socket;
  private final String self;
  private final int timeoutMillis;
  private final int capacity;
  private final WireDType wire;
  private final DataInputStream in;
  private final OutputStream out;
  private final byte[] readHeader = new byte[Frame.HEADER_BYTES];
  private final byte[] writeHeader = new byte[Frame.HEADER_BYTES];
  private final ReentrantLock writeLock = new ReentrantLock();
  private final ExecutorService sender;
  private volatile String peer;

  /**
   * @param capacity the most payload bytes a data frame may declare (the session's bucket)
   * @param wire     the session's dtype, which every frame must carry
   */
  private PeerChannel(Socket socket, String self, String peer, int timeoutMillis, int capacity,
      WireDType wire) throws IOException {
    this.socket = socket;
    this.self = self;
    this.peer = peer;
    this.timeoutMillis = timeoutMillis;
    this.capacity = capacity;
    this.wire = wire;
    socket.setSoTimeout(timeoutMillis);
    socket.setTcpNoDelay(true);
    socket.setSendBufferSize(SOCKET_BUFFER_BYTES);
    this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(),
        STREAM_BUFFER_BYTES));
    this.out = new BufferedOutputStream(socket.getOutputStream(), STREAM_BUFFER_BYTES);
    this.sender = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "exchange-send " + self + " -> " + peer);
      t.setDaemon(true);
      return t;
    });
  }

  /** A server socket whose accepted sockets get large receive buffers (set before bind). */
  static ServerSocket listen(String host, int port) throws IOException {
    ServerSocket server = new ServerSocket();
    server.setReceiveBufferSize(SOCKET_BUFFER_BYTES);
    server.bind(new InetSocketAddress(host, port), 64);
    return server;
  }

  /**
   * Connects to {@code peerName} at {@code address} ({@code host:port}) within the spec's timeout;
   * the handshake is the caller's.
   */
  static PeerChannel connect(String address, String self, String peerName, ExchangeSpec spec) {
    InetSocketAddress target = HostPort.parse(peerName + " address", address);
    Socket socket = new Socket();
    String peer = peerName + " at " + address;
    try {
      socket.setReceiveBufferSize(SOCKET_BUFFER_BYTES);
      socket.connect(new InetSocketAddress(target.getHostString(), target.getPort()),
          spec.timeoutMillis());
      return new PeerChannel(socket, self, peer, spec.timeoutMillis(), spec.bucketWireBytes(),
          spec.wire());
    } catch (IOException e) {
      closeQuietly(socket);
      throw new ExchangeException(self + ": cannot connect to " + peer + " within "
          + spec.timeoutMillis() + " ms: " + e, e);
    }
  }

  /** A channel over an accepted socket, peer named by its address until the handshake names it. */
  static PeerChannel accepted(Socket socket, String self, ExchangeSpec spec) throws IOException {
    return new PeerChannel(socket, self, "peer " + remoteAddress(socket), spec.timeoutMillis(),
        spec.bucketWireBytes(), spec.wire());
  }

  /** {@code host:port} of the other end. */
  String remoteAddress() {
    return remoteAddress(socket);
  }

  private static String remoteAddress(Socket socket) {
    return HostPort.format((InetSocketAddress) socket.getRemoteSocketAddress());
  }

  /** Names the peer once the handshake has told its rank, for the messages that follow. */
  void identify(String name) {
    peer = name;
  }

  String peer() {
    return peer;
  }

  /**
   * Reads and validates the next header. Returns null only when {@code allowClose} and the peer
   * closed the connection cleanly between frames.
   */
  Frame readHeader(String where, boolean allowClose) {
    try {
      int first = in.read();
      if (first < 0) {
        if (allowClose) {
          return null;
        }
        throw new EOFException();
      }
      readHeader[0] = (byte) first;
      in.readFully(readHeader, 1, Frame.HEADER_BYTES - 1);
    } catch (IOException e) {
      throw readFailure(e, where);
    }
    try {
      return Frame.decode(readHeader, capacity);
    } catch (IllegalArgumentException e) {
      throw new ExchangeException(self + ": refused a malformed frame from " + peer + " ("
          + where + "): " + e.getMessage());
    }
  }

  /**
   * Checks a header against what the protocol expects next ({@link #ANY} skips a field), reading the
   * text of an ABORT or REFUSE to report it. {@code length} -1 accepts any length the type allows.
   */
  Frame expect(Frame frame, FrameType type, int rank, int step, int bucket, int part, int length,
      String where) {
    if (frame.type() != type
        && (frame.type() == FrameType.ABORT || frame.type() == FrameType.REFUSE)) {
      String text = readText(frame, where);
      throw new ExchangeException(self + ": " + peer + (frame.type() == FrameType.REFUSE
          ? " refused the connection: " : " aborted: ") + text + " (" + where + ")");
    }
    String mismatch = frame.type() != type ? "frame type " + frame.type() + ", expected " + type
        : frame.dtype() != wire ? "wire dtype " + frame.dtype() + ", expected " + wire
        : differs(rank, frame.rank()) ? "a frame as rank " + frame.rank() + ", expected " + rank
        : differs(step, frame.step()) ? "step " + frame.step() + ", expected " + step
        : differs(bucket, frame.bucket()) ? "bucket " + frame.bucket() + ", expected " + bucket
        : differs(part, frame.part()) ? "part " + frame.part() + ", expected " + part
        : length >= 0 && frame.length() != length
            ? frame.length() + " payload bytes, expected " + length : null;
    if (mismatch != null) {
      throw new ExchangeException(self + ": " + peer + " sent " + mismatch + " (" + where + ")");
    }
    return frame;
  }

  private static boolean differs(int expected, int actual) {
    return expected != ANY && expected != actual;
  }

  /** Reads the payload of {@code frame} into {@code into[0, length)}; no allocation. */
  void readPayload(Frame frame, byte[] into, String where) {
    try {
      in.readFully(into, 0, frame.length());
    } catch (IOException e) {
      throw readFailure(e, where);
    }
  }

  /** The UTF-8 text of a REFUSE or ABORT frame (its length is capped by the header check). */
  private String readText(Frame frame, String where) {
    byte[] text = new byte[frame.length()];
    readPayload(frame, text, where);
    return new String(text, StandardCharsets.UTF_8);
  }

  /** Writes one frame and flushes it. */
  void write(Frame frame, byte[] payload, String where) {
    writeLock.lock();
    try {
      writeLocked(frame, payload, where);
    } finally {
      writeLock.unlock();
    }
  }

  private void writeLocked(Frame frame, byte[] payload, String where) {
    try {
      frame.encode(writeHeader);
      out.write(writeHeader);
      out.write(payload, 0, frame.length());
      out.flush();
    } catch (IOException e) {
      close();
      throw new ExchangeException(self + ": cannot send to " + peer + " (" + where + "): " + e, e);
    }
  }

  /** {@link #write} on the sender thread; {@code payload} must stay untouched until it is done. */
  Future<?> sendAsync(Frame frame, byte[] payload, String where) {
    return sender.submit(() -> write(frame, payload, where));
  }

  /** Runs {@code task} on the sender thread, behind any queued sends. */
  Future<?> onSender(Runnable task) {
    return sender.submit(task);
  }

  /** Waits for a send; a send stuck longer than the timeout (peer not reading) closes the channel. */
  void await(Future<?> send, String where) {
    try {
      send.get(timeoutMillis, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      close();
      throw new ExchangeException(self + ": sending to " + peer + " did not finish within "
          + timeoutMillis + " ms (" + where + ")");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof ExchangeException cause) {
        throw cause;
      }
      throw new ExchangeException(self + ": sending to " + peer + " failed (" + where + "): "
          + e.getCause(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      close();
      throw new ExchangeException(self + ": interrupted while sending to " + peer + " (" + where
          + ")");
    }
  }

  /**
   * Best effort: tells the peer why this side gives up, in a REFUSE (during the handshake) or ABORT
   * frame carrying {@code text} (not empty; cut to the protocol's cap), then closes.
   */
  void closeWith(FrameType type, int selfRank, String text) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    int length = Math.min(bytes.length, FrameType.MAX_TEXT_BYTES);
    // A send stuck on a peer that does not read holds the lock: then there is no way to tell it.
    if (writeLock.tryLock()) {
      try {
        writeLocked(new Frame(type, wire, 0, selfRank, 0, 0, 0, length), bytes, type.toString());
      } catch (ExchangeException ignored) {
        // The peer is gone already; it has nothing left to be told.
      } finally {
        writeLock.unlock();
      }
    }
    close();
  }

  private ExchangeException readFailure(IOException e, String where) {
    close();
    if (e instanceof SocketTimeoutException) {
      return new ExchangeException(self + ": no frame from " + peer + " within " + timeoutMillis
          + " ms (" + where + "); the peer hangs or is unreachable", e);
    }
    if (e instanceof EOFException) {
      return new ExchangeException(self + ": " + peer + " closed the connection (" + where + ")",
          e);
    }
    return new ExchangeException(self + ": cannot read from " + peer + " (" + where + "): " + e,
        e);
  }

  @Override
  public void close() {
    sender.shutdownNow();
    closeQuietly(socket);
  }

  /** Closes a socket being given up on: a failure to close leaves nothing to recover. */
  static void closeQuietly(Closeable socket) {
    try {
      socket.close();
    } catch (IOException ignored) {
      // The socket is unusable either way, and the caller already has an error to report, or none.
    }
  }
}
