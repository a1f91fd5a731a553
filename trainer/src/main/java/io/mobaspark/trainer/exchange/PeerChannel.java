package io.mobaspark.trainer.exchange;

import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * One authenticated-or-about-to-be TCP connection with framed reads and writes, on an NIO
 * {@link SocketChannel} with direct buffers: payloads are encoded straight into the send buffer and
 * decoded straight out of the receive buffer, with no heap copy in between, and every socket call
 * moves at most {@link #SLICE_BYTES}. Reads run on the caller's thread; writes may run on the
 * channel's own sender thread ({@link #sendAsync}) so that a rank sends and receives at once (full
 * duplex). The channel is non-blocking and waits in a {@link Selector} for each direction, which is
 * what bounds every wait by the timeout (a blocking channel ignores {@code SO_TIMEOUT}).
 *
 * <p>Every error names this side ({@code self}), the peer and what was under way ({@code where}).
 * A broken stream closes the channel; a frame that breaks the protocol leaves closing to the caller,
 * which may first tell the peer why ({@link #closeWith}).
 */
final class PeerChannel implements AutoCloseable {
  /** Matches any step, bucket or part in {@link #expect}. */
  static final int ANY = Integer.MIN_VALUE;
  private static final System.Logger LOG = System.getLogger(PeerChannel.class.getName());
  /**
   * The most bytes one socket call moves, and the size of each direction's buffer: on loopback,
   * full-duplex 200 MiB each way moved 2-7× faster in calls of 256 KiB than of 8 MiB, over TCP and
   * over local sockets (docs/perf/exchange.md, lab/LoopbackTransport): the slice stays in the
   * core's cache between the copy the codec makes and the one the kernel makes.
   */
  static final int SLICE_BYTES = 256 << 10;
  private static final int SOCKET_BUFFER_BYTES = 4 << 20;

  /** Produces a data frame's elements, a run at a time, into the send buffer. */
  @FunctionalInterface
  interface PayloadSource {
    /** Encodes elements {@code [first, first + count)} into {@code dst} from byte {@code at}. */
    void encode(ByteBuffer dst, int at, int first, int count);
  }

  /** Consumes a data frame's elements, a run at a time, from the receive buffer. */
  @FunctionalInterface
  interface PayloadSink {
    /** Takes elements {@code [first, first + count)} from {@code src} at byte {@code at}. */
    void decode(ByteBuffer src, int at, int first, int count);
  }

  private final SocketChannel channel;
  /** {@code host:port} of the other end, or where a same-host peer's local socket is. */
  private final String remoteAddress;
  private final String self;
  private final int timeoutMillis;
  private final int capacity;
  private final WireDType wire;
  /** Reader's side: bytes received and not consumed yet lie in [position, limit). */
  private final ByteBuffer in = WireDType.allocate(SLICE_BYTES);
  private final Selector readable;
  private final byte[] readHeader = new byte[Frame.HEADER_BYTES];
  /** Writer's side, under {@link #writeLock}: a header and as much payload as fits, per call. */
  private final ByteBuffer out = WireDType.allocate(SLICE_BYTES);
  private final Selector writable;
  private final byte[] writeHeader = new byte[Frame.HEADER_BYTES];
  private final ReentrantLock writeLock = new ReentrantLock();
  private final ExecutorService sender;
  private volatile String peer;

  /**
   * @param capacity the most payload bytes a data frame may declare (the session's bucket)
   * @param wire     the session's dtype, which every frame must carry
   */
  private PeerChannel(SocketChannel channel, String remoteAddress, String self, String peer,
      int timeoutMillis, int capacity, WireDType wire) throws IOException {
    this.channel = channel;
    this.remoteAddress = remoteAddress;
    this.self = self;
    this.peer = peer;
    this.timeoutMillis = timeoutMillis;
    this.capacity = capacity;
    this.wire = wire;
    if (channel.getRemoteAddress() instanceof InetSocketAddress) {
      channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
    }
    channel.setOption(StandardSocketOptions.SO_SNDBUF, SOCKET_BUFFER_BYTES);
    channel.configureBlocking(false);
    this.readable = Selector.open();
    this.writable = Selector.open();
    channel.register(readable, SelectionKey.OP_READ);
    channel.register(writable, SelectionKey.OP_WRITE);
    in.limit(0);
    this.sender = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "exchange-send " + self + " -> " + peer);
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * A blocking server channel on {@code host:port} whose accepted sockets get large receive
   * buffers (set before bind).
   */
  static ServerSocketChannel listen(String host, int port) throws IOException {
    ServerSocketChannel server = ServerSocketChannel.open();
    server.setOption(StandardSocketOptions.SO_RCVBUF, SOCKET_BUFFER_BYTES);
    server.bind(new InetSocketAddress(host, port), 64);
    return server;
  }

  /**
   * Connects to {@code peerName} at {@code address} ({@code host:port}) within the spec's timeout;
   * the handshake is the caller's.
   */
  static PeerChannel connect(String address, String self, String peerName, ExchangeSpec spec) {
    InetSocketAddress target = HostPort.parse(peerName + " address", address);
    String peer = peerName + " at " + address;
    SocketChannel channel = null;
    try {
      channel = SocketChannel.open();
      channel.setOption(StandardSocketOptions.SO_RCVBUF, SOCKET_BUFFER_BYTES);
      channel.socket().connect(new InetSocketAddress(target.getHostString(), target.getPort()),
          spec.timeoutMillis());
      return new PeerChannel(channel, address, self, peer, spec.timeoutMillis(),
          spec.bucketWireBytes(), spec.wire());
    } catch (IOException e) {
      if (channel != null) {
        closeQuietly(channel);
      }
      throw new ExchangeException(self + ": cannot connect to " + peer + " within "
          + spec.timeoutMillis() + " ms: " + e, e);
    }
  }

  /**
   * Connects to {@code peerName} at {@code address}: through its local socket when it is on
   * {@code ownHost} ({@link PeerAddress#localFrom}; a connect there succeeds or fails at once, and
   * a failure falls back to TCP), else by TCP. Either way the peer is named by its
   * {@code host:port}, and the handshake is the caller's.
   */
  static PeerChannel connect(PeerAddress address, String ownHost, String self, String peerName,
      ExchangeSpec spec) {
    if (address.localFrom(ownHost)) {
      try {
        return connectLocal(address.local(), address.hostPort(), self, peerName, spec);
      } catch (IOException e) {
        LOG.log(System.Logger.Level.INFO, self + ": " + peerName + "'s local socket "
            + address.local() + " failed (" + e + "); connecting by TCP");
      }
    }
    return connect(address.hostPort(), self, peerName, spec);
  }

  /**
   * Connects to {@code peerName}'s local socket at {@code socket}, naming the peer by
   * {@code where} (its {@code host:port}, or the host); the handshake is the caller's.
   */
  static PeerChannel connectLocal(Path socket, String where, String self, String peerName,
      ExchangeSpec spec) throws IOException {
    SocketChannel channel = null;
    try {
      channel = SocketChannel.open(StandardProtocolFamily.UNIX);
      channel.setOption(StandardSocketOptions.SO_RCVBUF, SOCKET_BUFFER_BYTES);
      channel.connect(UnixDomainSocketAddress.of(socket));
      return new PeerChannel(channel, where, self, peerName + " at " + where,
          spec.timeoutMillis(), spec.bucketWireBytes(), spec.wire());
    } catch (IOException e) {
      if (channel != null) {
        closeQuietly(channel);
      }
      throw e;
    }
  }

  /**
   * A channel over an accepted socket, the peer named by {@code address} until the handshake names
   * it: {@link HostPort#format} of a TCP peer, or for a same-host peer on a local socket where
   * (which host) it is.
   */
  static PeerChannel accepted(SocketChannel channel, String address, String self,
      ExchangeSpec spec) throws IOException {
    if (!(channel.getRemoteAddress() instanceof InetSocketAddress)) {
      channel.setOption(StandardSocketOptions.SO_RCVBUF, SOCKET_BUFFER_BYTES);
    }
    return new PeerChannel(channel, address, self, "peer " + address, spec.timeoutMillis(),
        spec.bucketWireBytes(), spec.wire());
  }

  /** {@code host:port} of the other end, or where a same-host peer's local socket is. */
  String remoteAddress() {
    return remoteAddress;
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
    return readHeader(() -> where, allowClose);
  }

  /**
   * {@link #readHeader(String, boolean)} with {@code where} told only if the read fails: a reader
   * that waits ahead of the others learns later which step it waited in.
   */
  Frame readHeader(Supplier<String> where, boolean allowClose) {
    try {
      if (!in.hasRemaining() && allowClose && !receive(1, true)) {
        return null;
      }
      receive(Frame.HEADER_BYTES, false);
    } catch (IOException e) {
      throw readFailure(e, where.get());
    }
    in.get(readHeader);
    try {
      return Frame.decode(readHeader, capacity);
    } catch (IllegalArgumentException e) {
      throw new ExchangeException(self + ": refused a malformed frame from " + peer + " ("
          + where.get() + "): " + e.getMessage());
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

  /** Reads the payload of a small frame (handshake, text) into {@code into[0, length)}. */
  void readPayload(Frame frame, byte[] into, String where) {
    int done = 0;
    try {
      while (done < frame.length()) {
        receive(1, false);
        int n = Math.min(in.remaining(), frame.length() - done);
        in.get(into, done, n);
        done += n;
      }
    } catch (IOException e) {
      throw readFailure(e, where);
    }
  }

  /**
   * Hands the payload of a data frame to {@code sink} in runs of whole elements, as they arrive:
   * the sink decodes each run while the kernel fills the socket with the next.
   */
  void readPayload(Frame frame, PayloadSink sink, String where) {
    int elementBytes = frame.dtype().bytes();
    int left = frame.length();
    int first = 0;
    try {
      while (left > 0) {
        receive(elementBytes, false);
        int run = Math.min(in.remaining(), left) / elementBytes;
        sink.decode(in, in.position(), first, run);
        in.position(in.position() + run * elementBytes);
        first += run;
        left -= run * elementBytes;
      }
    } catch (IOException e) {
      throw readFailure(e, where);
    }
  }

  /**
   * Reads the payload of a data frame into {@code into} from its position: what is buffered first,
   * then straight from the socket, no further copy.
   */
  void readPayload(Frame frame, ByteBuffer into, String where) {
    int end = into.position() + frame.length();
    int buffered = Math.min(in.remaining(), frame.length());
    into.put(into.position(), in, in.position(), buffered);
    into.position(into.position() + buffered);
    in.position(in.position() + buffered);
    try {
      while (into.position() < end) {
        into.limit(Math.min(end, into.position() + SLICE_BYTES));
        awaitBytes(into);
      }
    } catch (IOException e) {
      throw readFailure(e, where);
    } finally {
      into.limit(into.capacity());
    }
  }

  /**
   * Makes at least {@code bytes} unread bytes available in {@code in}, reading what the socket has
   * (up to the buffer's size).
   *
   * @return false only when {@code allowEnd} and the peer closed before any byte of it
   */
  private boolean receive(int bytes, boolean allowEnd) throws IOException {
    if (in.remaining() >= bytes) {
      return true;
    }
    in.compact();
    try {
      while (in.position() < bytes) {
        if (!awaitBytes(in)) {
          if (allowEnd && in.position() == 0) {
            return false;
          }
          throw new EOFException();
        }
      }
    } finally {
      in.flip();
    }
    return true;
  }

  /**
   * One read into {@code dst} of at least a byte, waiting for it at most the timeout.
   *
   * @return false at the end of the stream
   */
  private boolean awaitBytes(ByteBuffer dst) throws IOException {
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
    while (true) {
      int n = channel.read(dst);
      if (n != 0) {
        return n > 0;
      }
      waitFor(readable, deadline);
    }
  }

  /** Waits until the selector says ready; past {@code deadline} a timeout, interrupted an error. */
  private void waitFor(Selector selector, long deadline) throws IOException {
    long leftMillis = (deadline - System.nanoTime()) / 1_000_000L;
    if (leftMillis < 1) {
      throw new SocketTimeoutException();
    }
    try {
      selector.select(leftMillis);
      selector.selectedKeys().clear();
    } catch (ClosedSelectorException e) {
      throw new ClosedChannelException();
    }
    if (Thread.currentThread().isInterrupted()) {
      throw new InterruptedIOException("interrupted");
    }
    if (!channel.isOpen()) {
      throw new ClosedChannelException();
    }
  }

  /** The UTF-8 text of a REFUSE or ABORT frame (its length is capped by the header check). */
  private String readText(Frame frame, String where) {
    byte[] text = new byte[frame.length()];
    readPayload(frame, text, where);
    return new String(text, StandardCharsets.UTF_8);
  }

  /** Writes one small frame (handshake, text). */
  void write(Frame frame, byte[] payload, String where) {
    write(frame, 1, (dst, at, first, count) -> dst.put(at, payload, first, count), where);
  }

  /**
   * Writes one frame whose payload {@code source} encodes into the send buffer, a slice at a time:
   * the header and the first elements go in the first socket call.
   */
  void write(Frame frame, PayloadSource source, String where) {
    write(frame, frame.dtype().bytes(), source, where);
  }

  private void write(Frame frame, int elementBytes, PayloadSource source, String where) {
    writeLock.lock();
    try {
      int elements = frame.length() / elementBytes;
      out.clear();
      putHeader(frame);
      int first = 0;
      while (true) {
        int run = Math.min(out.remaining() / elementBytes, elements - first);
        source.encode(out, out.position(), first, run);
        out.position(out.position() + run * elementBytes);
        first += run;
        if (first == elements) {
          break;
        }
        send(out.flip());
        out.clear();
      }
      send(out.flip());
    } catch (IOException e) {
      throw writeFailure(e, where);
    } finally {
      writeLock.unlock();
    }
  }

  /**
   * Writes one frame whose payload is {@code payload}'s remaining bytes, sent as they are (the
   * driver's results, the same buffer for every rank: each send reads a duplicate).
   */
  void write(Frame frame, ByteBuffer payload, String where) {
    writeLock.lock();
    try {
      out.clear();
      putHeader(frame);
      send(out.flip());
      ByteBuffer view = payload.duplicate();
      int end = view.limit();
      while (view.position() < end) {
        view.limit(Math.min(end, view.position() + SLICE_BYTES));
        send(view);
      }
    } catch (IOException e) {
      throw writeFailure(e, where);
    } finally {
      writeLock.unlock();
    }
  }

  private void putHeader(Frame frame) {
    frame.encode(writeHeader);
    out.put(writeHeader);
  }

  /** Writes all of {@code src}; a peer that takes no byte for the timeout is a failure. */
  private void send(ByteBuffer src) throws IOException {
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
    while (src.hasRemaining()) {
      if (channel.write(src) > 0) {
        deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
      } else {
        waitFor(writable, deadline);
      }
    }
  }

  private ExchangeException writeFailure(IOException e, String where) {
    close();
    if (e instanceof SocketTimeoutException) {
      return new ExchangeException(self + ": sending to " + peer + " did not finish within "
          + timeoutMillis + " ms (" + where + "); the peer stopped reading", e);
    }
    return new ExchangeException(self + ": cannot send to " + peer + " (" + where + "): " + e, e);
  }

  /** A frame whose payload {@code source} encodes, written on the sender thread. */
  Future<?> sendAsync(Frame frame, PayloadSource source, String where) {
    return sender.submit(() -> write(frame, source, where));
  }

  /** {@code payload}'s remaining bytes, on the sender thread; keep it unchanged until done. */
  Future<?> sendAsync(Frame frame, ByteBuffer payload, String where) {
    return sender.submit(() -> write(frame, payload, where));
  }

  /** Runs {@code task} on the sender thread, behind any queued sends. */
  Future<?> onSender(Runnable task) {
    return sender.submit(task);
  }

  /**
   * Waits for a send to end. No timeout here: a send fails by itself when the peer takes no byte
   * for the timeout, and a long queue of sends that all make progress is no failure.
   */
  void await(Future<?> send, String where) {
    try {
      send.get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof ExchangeException cause) {
        throw cause;
      }
      throw new ExchangeException(self + ": sending to " + peer + " failed (" + where + "): "
          + e.getCause(), e.getCause());
    } catch (CancellationException e) {
      throw new ExchangeException(self + ": sending to " + peer + " was cancelled (" + where
          + "): the channel closed");
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
        write(new Frame(type, wire, 0, selfRank, 0, 0, 0, length), bytes, type.toString());
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

  /**
   * Whether the peer has closed the connection, its process included, seen without waiting: for a
   * channel kept after setup only to notice that (the shared kind, {@link ArenaBarrier}). Bytes
   * that arrive are dropped; nothing is sent on such a channel.
   */
  boolean peerGone() {
    try {
      return channel.read(ByteBuffer.allocate(64)) < 0;
    } catch (IOException e) {
      return true;
    }
  }

  @Override
  public void close() {
    sender.shutdownNow();
    closeQuietly(channel);
    // Wakes a reader or writer waiting in select; it then finds the channel closed.
    closeQuietly(readable);
    closeQuietly(writable);
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
