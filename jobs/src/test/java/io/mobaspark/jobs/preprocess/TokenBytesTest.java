package io.mobaspark.jobs.preprocess;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.data.shard.TokenDtype;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Token ids survive the trip through a row's bytes in both shard widths. */
class TokenBytesTest {

  @Test
  void roundTripsTheWholeRangeOfEachWidth() {
    int[] uint16 = {0, 1, 255, 256, 50256, 65535};
    byte[] narrow = TokenBytes.of(uint16, TokenDtype.UINT16);
    assertEquals(2 * uint16.length, narrow.length, "2 bytes per GPT-2 token");
    assertArrayEquals(uint16, TokenBytes.ids(narrow, TokenDtype.UINT16));

    Random random = new Random(4);
    int[] int32 = new int[1000];
    for (int i = 0; i < int32.length; i++) {
      int32[i] = random.nextInt(Integer.MAX_VALUE);
    }
    int32[0] = 100276;
    byte[] wide = TokenBytes.of(int32, TokenDtype.INT32);
    assertEquals(4 * int32.length, wide.length);
    assertArrayEquals(int32, TokenBytes.ids(wide, TokenDtype.INT32));
    assertArrayEquals(new int[0], TokenBytes.ids(TokenBytes.of(new int[0], TokenDtype.INT32),
        TokenDtype.INT32));
  }

  @Test
  void refusesBytesThatAreNotWholeIds() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TokenBytes.ids(new byte[3], TokenDtype.UINT16));
    assertTrue(e.getMessage().contains("uint16"), e.getMessage());
  }
}
