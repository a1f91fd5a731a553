package io.mobaspark.kernels;

import static io.mobaspark.kernels.ShapeTest.assertRejected;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class OpChecksTest {

  @Test
  void matmulReturnsMnkForEveryTranspose() {
    Shape out = new Shape("out", 2, 5);
    assertArrayEquals(new int[] {2, 5, 3},
        OpChecks.matmul(out, new Shape("a", 2, 3), new Shape("b", 3, 5), false, false));
    assertArrayEquals(new int[] {2, 5, 3},
        OpChecks.matmul(out, new Shape("a", 3, 2), new Shape("b", 3, 5), true, false));
    assertArrayEquals(new int[] {2, 5, 3},
        OpChecks.matmul(out, new Shape("a", 2, 3), new Shape("b", 5, 3), false, true));
    assertArrayEquals(new int[] {2, 5, 3},
        OpChecks.matmul(out, new Shape("a", 3, 2), new Shape("b", 5, 3), true, true));
  }

  @Test
  void matmulNamesTheOperandsThatDisagree() {
    Shape a = new Shape("x", 2, 3);
    assertRejected(() -> OpChecks.matmul(new Shape("y", 2, 4), a, new Shape("w", 3, 4), false,
        true), "x[2, 3] @ w[3, 4]^T", "3 vs 4");
    assertRejected(() -> OpChecks.matmul(new Shape("y", 2, 5), a, new Shape("w", 3, 4), false,
        false), "tensor y", "expected [2, 4]");
    assertRejected(() -> OpChecks.matmul(new Shape("y", 2, 4), a, new Shape("w", 3, 4, 1), false,
        false), "w[3, 4, 1]", "rank 2");
  }

  @Test
  void rankAndElementCountChecksNameTheTensors() {
    OpChecks.requireRank(new Shape("x", 2, 2), 2);
    OpChecks.sameNumel(new Shape("a", 2, 3), new Shape("b", 6));
    OpChecks.rows(new Shape("h", 4, 8), 4, 8);

    assertRejected(() -> OpChecks.requireRank(new Shape("x", 4), 2), "x[4]", "rank 2");
    assertRejected(() -> OpChecks.sameNumel(new Shape("a", 2, 3), new Shape("b", 5)), "a[2, 3]",
        "b[5]");
    assertRejected(() -> OpChecks.rows(new Shape("h", 4, 8), 4, 9), "tensor h", "[4, 9]");
  }

  @Test
  void attentionTokensChecksQkvAgainstConfigAndLayout() {
    AttentionConfig gqa = AttentionConfig.dense(4, 2, 8);
    SeqLayout layout = SeqLayout.of(0, 2, 5);
    Shape q = new Shape("q", 5, 4, 8);
    Shape kv = new Shape("k", 5, 2, 8);

    assertEquals(5, OpChecks.attentionTokens(q, kv, new Shape("v", 5, 2, 8), gqa, layout));
    assertRejected(() -> OpChecks.attentionTokens(q, kv, new Shape("v", 5, 4, 8), gqa, layout),
        "tensor v", "expected [5, 2, 8]");
    assertRejected(() -> OpChecks.attentionTokens(new Shape("q", 5, 4, 16), kv, kv, gqa, layout),
        "tensor q", "expected [5, 4, 8]");
    assertRejected(() -> OpChecks.attentionTokens(q, kv, kv, gqa, SeqLayout.of(0, 6)),
        "q[5, 4, 8]", "covers 6");
    assertRejected(() -> OpChecks.attentionTokens(new Shape("q", 40), kv, kv, gqa, layout),
        "q[40]", "rank 3");
  }

  @Test
  void routingIsRequiredForMobaOnlyAndShapedHeadsTokensTopk() {
    AttentionConfig moba = AttentionConfig.moba(4, 2, 8, 16, 3);
    OpChecks.routing(new Shape("routing", 4, 10, 3), moba, 10);
    OpChecks.routing(null, AttentionConfig.dense(4, 2, 8), 10);

    assertRejected(() -> OpChecks.routing(null, moba, 10), "mobaRoute");
    assertRejected(() -> OpChecks.routing(new Shape("routing", 4, 10, 2), moba, 10),
        "tensor routing", "expected [4, 10, 3]");
    assertRejected(() -> OpChecks.routing(new Shape("routing", 4, 10, 3),
        AttentionConfig.sliding(4, 2, 8, 64), 10), "SLIDING", "no routing");
  }

  @Test
  void keyConvWidthReadsTheWeightAgainstTheKeys() {
    Shape k = new Shape("k", 9, 2, 8);

    assertEquals(5, OpChecks.keyConvWidth(new Shape("kconv", 2, 5, 8), k));
    assertRejected(() -> OpChecks.keyConvWidth(new Shape("kconv", 3, 5, 8), k), "tensor kconv",
        "expected [2, 5, 8]");
    assertRejected(() -> OpChecks.keyConvWidth(new Shape("kconv", 2, 0, 8), k), "width 0");
    assertRejected(() -> OpChecks.keyConvWidth(new Shape("kconv", 10, 8), k), "rank 3");
  }
}
