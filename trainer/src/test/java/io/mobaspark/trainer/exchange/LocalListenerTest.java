package io.mobaspark.trainer.exchange;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The local socket's folder: named after this process, removed on close and after a kill. */
class LocalListenerTest {

  @Test
  void theFolderOfAKilledProcessGoesWithTheNextListener() throws Exception {
    Process ended = new ProcessBuilder("true").start();
    ended.waitFor();
    Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
    Path left = Files.createDirectories(
        tmp.resolve(LocalListener.PREFIX + "pid" + ended.pid() + "-" + System.nanoTime()));
    Files.writeString(left.resolve("s"), "a socket file of the killed process");
    try {
      Path socket;
      try (LocalListener listener = LocalListener.open("test")) {
        assertNotNull(listener, "this machine can make Unix-domain sockets");
        socket = listener.path();
        String own = LocalListener.PREFIX + "pid" + ProcessHandle.current().pid() + "-";
        assertTrue(socket.getParent().getFileName().toString().startsWith(own), socket.toString());
        assertFalse(Files.exists(left), left + " should have been removed");
      }
      assertFalse(Files.exists(socket.getParent()), "close removes " + socket.getParent());
    } finally {
      Files.deleteIfExists(left.resolve("s"));
      Files.deleteIfExists(left);
    }
  }
}
