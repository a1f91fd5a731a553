package io.mobaspark.trainer.exchange;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which neighbours take the local socket: the same host by name, and a socket that exists. */
class PeerAddressTest {
  @Test
  void theTextRoundTripsWithAndWithoutALocalSocket(@TempDir Path dir) {
    PeerAddress tcpOnly = PeerAddress.parse("a", "10.0.0.7:4100");
    assertEquals("10.0.0.7:4100", tcpOnly.hostPort());
    assertNull(tcpOnly.local());
    PeerAddress both = new PeerAddress("[::1]:4100", dir.resolve("with space/s"));
    assertEquals(both, PeerAddress.parse("a", both.format()));
    assertThrows(IllegalArgumentException.class, () -> PeerAddress.parse("a", "no port local=/x"));
  }

  @Test
  void onlyANeighbourOnTheSameHostWithTheSocketVisibleGoesLocal(@TempDir Path dir)
      throws Exception {
    Path socket = Files.createFile(dir.resolve("s"));
    PeerAddress right = new PeerAddress("10.0.0.7:4100", socket);
    assertTrue(right.localFrom("10.0.0.7"));
    assertFalse(right.localFrom("10.0.0.8"), "another host");
    assertFalse(new PeerAddress("10.0.0.7:4100", dir.resolve("gone")).localFrom("10.0.0.7"),
        "a socket this process cannot see: another container of the same machine");
    assertFalse(new PeerAddress("10.0.0.7:4100", null).localFrom("10.0.0.7"));
  }
}
