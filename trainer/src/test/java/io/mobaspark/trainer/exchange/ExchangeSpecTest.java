package io.mobaspark.trainer.exchange;

import static io.mobaspark.trainer.exchange.AuthenticationTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import org.junit.jupiter.api.Test;

class ExchangeSpecTest {
  private static final String SECRET = GradientExchanges.newSecret();

  @Test
  void travelsToTasksAndNeverPrintsTheSecret() throws Exception {
    ExchangeSpec spec = new ExchangeSpec(ExchangeSpec.Kind.RING, 4, "", SECRET, 4 << 20,
        WireDType.BF16, 60_000);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(spec);
    }
    try (ObjectInputStream in = new ObjectInputStream(
        new ByteArrayInputStream(bytes.toByteArray()))) {
      assertEquals(spec, in.readObject());
    }
    assertFalse(spec.toString().contains(SECRET), spec.toString());
    assertContains(spec.toString(), "secret=<redacted>", "wire=BF16");
    assertEquals(43, SECRET.length());
    assertEquals(1 << 20, spec.bucketElements());
  }

  @Test
  void invalidSpecsNameTheField() {
    assertRefused(() -> new ExchangeSpec(ExchangeSpec.Kind.DRIVER, 2, "nohost", SECRET, 64,
        WireDType.FP32, 1000), "driverAddress must be host:port, got 'nohost'");
    assertRefused(() -> new ExchangeSpec(ExchangeSpec.Kind.RING, 2, "", "short", 64,
        WireDType.FP32, 1000), "secret must have at least 16 characters for RING, got 5");
    assertRefused(() -> new ExchangeSpec(ExchangeSpec.Kind.RING, 2, "", SECRET, 6,
        WireDType.FP32, 1000), "bucketBytes must be a multiple of 4");
    assertRefused(() -> new ExchangeSpec(ExchangeSpec.Kind.LOCAL, 2, "", null, 64,
        WireDType.FP32, 1000), "exactly 1 for LOCAL");
    assertRefused(() -> ExchangeSpec.Kind.parse("nccl"), "must be local, driver, ring or shared");
    assertInstanceOf(LocalExchange.class,
        GradientExchanges.open(ExchangeSpec.local(), 0, null, null));
  }

  private static void assertRefused(Runnable make, String message) {
    assertContains(assertThrows(IllegalArgumentException.class, make::run).getMessage(), message);
  }
}
