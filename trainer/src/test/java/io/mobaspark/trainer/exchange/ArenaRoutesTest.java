package io.mobaspark.trainer.exchange;

import static io.mobaspark.trainer.exchange.AuthenticationTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.trainer.exchange.ArenaRoutes.Place;
import io.mobaspark.trainer.exchange.ArenaRoutes.Route;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The device shared kind's choice of routes, on the CPU: threads of one process read each other's
 * arenas directly (peer access between devices), processes by IPC; devices of one process that
 * cannot reach each other send every rank to the host path with the same reason.
 */
class ArenaRoutesTest {
  private static final String A = "0123456789abcdef0123456789abcdef";
  private static final String B = "fedcba9876543210fedcba9876543210";
  private static final ArenaRoutes.PeerProbe ALL = (from, to) -> true;
  private static final ArenaRoutes.PeerProbe NONE = (from, to) -> false;
  private static final ArenaRoutes.PeerProbe UNCALLED = (from, to) -> {
    throw new AssertionError("probed " + from + " -> " + to);
  };

  @Test
  void threadsOnOneDeviceReadEachOtherDirectlyWithoutProbing() {
    ArenaRoutes routes = ArenaRoutes.plan(1, List.of(new Place(A, 0), new Place(A, 0)), UNCALLED);
    assertEquals(List.of(Route.SAME_DEVICE, Route.OWN), routes.routes());
    assertFalse(routes.exportsIpc());
    assertNull(routes.hostReason());
  }

  @Test
  void threadsOnDevicesThatReachEachOtherUsePeerAccess() {
    ArenaRoutes routes = ArenaRoutes.plan(0,
        List.of(new Place(A, 0), new Place(A, 1), new Place(A, 0)), ALL);
    assertEquals(List.of(Route.OWN, Route.PEER, Route.SAME_DEVICE), routes.routes());
    assertNull(routes.hostReason());
  }

  @Test
  void threadsOnDevicesWithoutPeerAccessNameTheDevices() {
    ArenaRoutes routes = ArenaRoutes.plan(0, List.of(new Place(A, 2), new Place(A, 5)),
        (from, to) -> from == 5);
    assertEquals("ranks [0, 1] are threads of one process on devices [2, 5] without peer access "
        + "between them (cuda:2 cannot read cuda:5's memory; cuDeviceCanAccessPeer is 0)",
        routes.hostReason());
  }

  @Test
  void processesUseIpcWhateverTheirDevicesAndAreNotProbed() {
    ArenaRoutes routes = ArenaRoutes.plan(0,
        List.of(new Place(A, 0), new Place(B, 0), new Place(B, 1)), UNCALLED);
    assertEquals(List.of(Route.OWN, Route.IPC, Route.IPC), routes.routes());
    assertTrue(routes.exportsIpc());
    assertNull(routes.hostReason());
  }

  @Test
  void aPlaceTravelsAsItsBytes() {
    Place place = new Place(B, 7);
    assertEquals(place, Place.parse(place.bytes()));
    assertEquals(Place.BYTES, place.bytes().length);
  }

  @Test
  void everyRankAgreesOnTheDevicePathWhenAllDevicesReachEachOther() throws Exception {
    List<Place> places = List.of(new Place(A, 0), new Place(A, 1), new Place(B, 1));
    List<ArenaRoutes> all = agree(places, ALL);
    for (ArenaRoutes routes : all) {
      assertNull(routes.hostReason());
    }
    assertEquals(List.of(Route.IPC, Route.IPC, Route.OWN), all.get(2).routes());
  }

  @Test
  void oneProcessWithoutPeerAccessSendsEveryRankToTheHost() throws Exception {
    List<Place> places = List.of(new Place(A, 0), new Place(A, 1), new Place(B, 1));
    List<ArenaRoutes> all = agree(places, NONE);
    String threads = "ranks [0, 1] are threads of one process on devices [0, 1] without peer "
        + "access between them (cuda:0 cannot read cuda:1's memory, cuda:1 cannot read cuda:0's "
        + "memory; cuDeviceCanAccessPeer is 0)";
    assertEquals(threads, all.get(0).hostReason());
    assertEquals(threads, all.get(1).hostReason());
    assertContains(all.get(2).hostReason(), "ranks [0, 1] of another process cannot reach");
  }

  @Test
  void withoutPeerAccessGpuRanksAverageOnTheHostWithTheHostBits() throws Exception {
    ExchangeSpec spec = LoopbackRanks.spec(ExchangeSpec.Kind.SHARED, 2, 64, WireDType.FP32, 10_000);
    List<float[]> results = LoopbackRanks.runRanks(2, (rank, board) -> {
      try (GradientExchange exchange = DeviceSharedExchange.open(spec, rank, "127.0.0.1",
          board.forRank(rank), null, new Place(A, rank), NONE)) {
        assertInstanceOf(SharedExchange.class, exchange);
        float[] values = {0.1f * (rank + 1), 1e-3f + rank, 3f, rank - 7f, 1f / 3 + rank};
        exchange.allReduceMean(1, List.of(values));
        return values;
      }
    });
    assertArrayEquals(results.get(0), results.get(1));
    assertEquals((float) (((double) 0.1f + (double) (0.1f * 2)) * 0.5), results.get(0)[0]);
  }

  @Test
  void cpuRanksOfTheSharedKindAverageOnTheHost() throws Exception {
    ExchangeSpec spec = LoopbackRanks.spec(ExchangeSpec.Kind.SHARED, 2, 64, WireDType.FP32, 10_000);
    List<Boolean> onDevice = LoopbackRanks.runRanks(2, (rank, board) -> {
      try (CpuBackend cpu = new CpuBackend(Precision.FLOAT32, 1);
          GradientExchange exchange = GradientExchanges.open(spec, rank, "127.0.0.1",
              board.forRank(rank), cpu)) {
        return exchange instanceof DeviceGradients;
      }
    });
    assertEquals(List.of(false, false), onDevice);
  }

  /** Every rank's agreed routes, the ranks as threads with the given (pretended) places. */
  private static List<ArenaRoutes> agree(List<Place> places, ArenaRoutes.PeerProbe probe)
      throws Exception {
    ExchangeSpec spec = LoopbackRanks.spec(ExchangeSpec.Kind.SHARED, places.size(), 64,
        WireDType.FP32, 10_000);
    return new ArrayList<>(LoopbackRanks.runRanks(places.size(), (rank, board) -> {
      try (SameHostGroup group = SameHostGroup.join(spec, rank, "127.0.0.1",
          board.forRank(rank))) {
        return ArenaRoutes.agree(group, places.get(rank), probe);
      }
    }));
  }
}
