package io.mobaspark.trainer.exchange.lab;

import java.io.EOFException;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The floor under the exchange on this machine: two endpoints that each send {@code mib} MiB to the
 * other at once (full duplex, as a 2-rank ring hop does), with direct buffers and socket calls of a
 * given size, over TCP loopback and over a Unix-domain socket. No codec, no framing: what moving
 * the bytes through the kernel costs, in wall time and in CPU time of both endpoints
 * (docs/perf/exchange.md). Transports and call sizes alternate
 * within each repetition, so a shared machine's load falls on all of them alike.
 *
 * <pre>
 * java -cp trainer/target/classes io.mobaspark.trainer.exchange.lab.LoopbackTransport \
 *     [mib=200] [calls_kib=64,256,1024,8192] [transports=tcp,local] [reps=5]
 * </pre>
 */
public final class LoopbackTransport {
  private LoopbackTransport() {}

  public static void main(String[] args) throws Exception {
    long mib = 200;
    int[] callsKiB = {64, 256, 1024, 8192};
    List<String> transports = List.of("tcp", "local");
    int reps = 5;
    for (String arg : args) {
      String[] kv = arg.split("=", 2);
      switch (kv[0]) {
        case "mib" -> mib = Long.parseLong(kv[1]);
        case "calls_kib" -> callsKiB = Arrays.stream(kv[1].split(",")).mapToInt(Integer::parseInt)
            .toArray();
        case "transports" -> transports = List.of(kv[1].split(","));
        case "reps" -> reps = Integer.parseInt(kv[1]);
        default -> throw new IllegalArgumentException("unknown argument '" + arg + "'");
      }
    }
    List<String> names = new ArrayList<>();
    List<List<Double>> times = new ArrayList<>();
    double[] cpuMillis = new double[transports.size() * callsKiB.length];
    for (String transport : transports) {
      for (int kib : callsKiB) {
        names.add(transport + " | " + kib);
        times.add(new ArrayList<>());
      }
    }
    for (int rep = 0; rep < reps; rep++) {
      int row = 0;
      for (String transport : transports) {
        for (int kib : callsKiB) {
          long cpu = processCpuNanos();
          times.get(row).add(duplexMillis(transport, mib << 20, kib << 10));
          cpuMillis[row++] += (processCpuNanos() - cpu) / 1e6 / reps;
        }
      }
    }
    System.out.printf("full duplex, %d MiB each way, %d repetitions, %d cores%n", mib, reps,
        Runtime.getRuntime().availableProcessors());
    System.out.println("| transport | call KiB | median ms | min ms | GB/s each way (median) "
        + "| CPU ms (mean) |");
    System.out.println("|---|---|---|---|---|---|");
    for (int row = 0; row < names.size(); row++) {
      double[] ms = times.get(row).stream().mapToDouble(Double::doubleValue).sorted().toArray();
      double median = ms[ms.length / 2];
      System.out.printf("| %s | %.0f | %.0f | %.2f | %.0f |%n", names.get(row), median, ms[0],
          (mib << 20) / (median / 1e3) / 1e9, cpuMillis[row]);
    }
  }

  /** CPU time of this process, all threads, user and kernel. */
  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory
        .getOperatingSystemMXBean()).getProcessCpuTime();
  }

  /** Wall time of both endpoints sending {@code bytes} to each other, in calls of {@code call}. */
  private static double duplexMillis(String transport, long bytes, int call) throws Exception {
    Path folder = null;
    ServerSocketChannel server;
    SocketChannel a;
    if (transport.equals("local")) {
      folder = Files.createTempDirectory("loopback-transport-");
      server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
      server.bind(UnixDomainSocketAddress.of(folder.resolve("s")));
      a = SocketChannel.open(server.getLocalAddress());
    } else if (transport.equals("tcp")) {
      server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
      a = SocketChannel.open(server.getLocalAddress());
      a.setOption(StandardSocketOptions.TCP_NODELAY, true);
    } else {
      throw new IllegalArgumentException("transport must be tcp or local, got " + transport);
    }
    SocketChannel b = server.accept();
    ExecutorService threads = Executors.newFixedThreadPool(4);
    try {
      long start = System.nanoTime();
      List<Future<?>> ends = List.of(threads.submit(() -> send(a, bytes, call)),
          threads.submit(() -> receive(a, bytes, call)), threads.submit(() -> send(b, bytes, call)),
          threads.submit(() -> receive(b, bytes, call)));
      for (Future<?> end : ends) {
        end.get();
      }
      return (System.nanoTime() - start) / 1e6;
    } finally {
      threads.shutdownNow();
      a.close();
      b.close();
      server.close();
      if (folder != null) {
        Files.deleteIfExists(folder.resolve("s"));
        Files.delete(folder);
      }
    }
  }

  private static Void send(SocketChannel channel, long bytes, int call) throws IOException {
    ByteBuffer buffer = ByteBuffer.allocateDirect(call);
    for (long done = 0; done < bytes; done += call) {
      buffer.clear();
      while (buffer.hasRemaining()) {
        channel.write(buffer);
      }
    }
    return null;
  }

  private static Void receive(SocketChannel channel, long bytes, int call) throws IOException {
    ByteBuffer buffer = ByteBuffer.allocateDirect(call);
    for (long done = 0; done < bytes; done += call) {
      buffer.clear();
      while (buffer.hasRemaining()) {
        if (channel.read(buffer) < 0) {
          throw new EOFException();
        }
      }
    }
    return null;
  }
}
