package io.mobaspark.trainer.exchange;

import io.mobaspark.trainer.ProcessTempFolders;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A Unix-domain server socket in a fresh folder of {@code java.io.tmpdir} (created owner-only, named
 * after this process so that the folder of a killed executor is removed by the next listener on that
 * machine: {@link ProcessTempFolders}), the same-host side door of a listener. On loopback it moves a gradient at about three times the rate
 * of TCP for a third of the CPU (docs/perf/exchange.md): no TCP/IP stack between the two copies.
 */
final class LocalListener implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(LocalListener.class.getName());
  static final String PREFIX = "mobaspark-exchange-";

  private final ServerSocketChannel server;
  private final Path folder;

  private LocalListener(ServerSocketChannel server, Path folder) {
    this.server = server;
    this.folder = folder;
  }

  /**
   * A bound local socket, or null where none can be made (no Unix sockets, or a temp path too long
   * for a socket address): then peers use TCP alone.
   *
   * @param owner names the listener in the log line that says so
   */
  static LocalListener open(String owner) {
    Path folder = null;
    ServerSocketChannel server = null;
    try {
      Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
      ProcessTempFolders.sweepEnded(tmp, PREFIX, line -> LOG.log(System.Logger.Level.INFO, line));
      folder = ProcessTempFolders.create(tmp, PREFIX, "");
      server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
      server.bind(UnixDomainSocketAddress.of(folder.resolve("s")), 64);
      return new LocalListener(server, folder);
    } catch (IOException | UnsupportedOperationException e) {
      LOG.log(System.Logger.Level.INFO, owner + ": no local socket, TCP only (" + e + ")");
      if (server != null) {
        PeerChannel.closeQuietly(server);
      }
      new LocalListener(null, folder).deleteFolder();
      return null;
    }
  }

  ServerSocketChannel server() {
    return server;
  }

  /** The socket's path, for {@link PeerAddress}. */
  Path path() {
    return folder.resolve("s");
  }

  /** Closes the socket and removes it and its folder; accepted channels stay open. */
  @Override
  public void close() {
    PeerChannel.closeQuietly(server);
    deleteFolder();
  }

  private void deleteFolder() {
    if (folder == null) {
      return;
    }
    try {
      Files.deleteIfExists(folder.resolve("s"));
      Files.deleteIfExists(folder);
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "cannot remove " + folder + ": " + e);
    }
  }
}
