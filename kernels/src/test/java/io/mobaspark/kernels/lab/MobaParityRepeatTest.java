package io.mobaspark.kernels.lab;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The dQ repeat rule of MobaParity: what a different atomic order may change, and no more. */
class MobaParityRepeatTest {

  @Test
  void oneBf16UlpOfAnElementIsAllowed() {
    assertTrue(MobaParity.sameUpToAtomicOrder(new double[] {1.0, 0.5}, new double[] {1.0078125, 0.5}));
    assertFalse(MobaParity.sameUpToAtomicOrder(new double[] {1.0, 0.5}, new double[] {1.02, 0.5}));
  }

  @Test
  void aCancellingElementMayMoveByAFractionOfTheTensorsScale() {
    // 1e-6 next to elements of 4: a few fp32 ulps of the summands, far above a bf16 ulp of 1e-6.
    double[] a = {4.0, 1e-6};
    assertTrue(MobaParity.sameUpToAtomicOrder(a, new double[] {4.0, 1e-6 + 3e-5}));
    assertFalse(MobaParity.sameUpToAtomicOrder(a, new double[] {4.0, 1e-6 + 1e-3}));
  }

  @Test
  void nanAndLengthMismatchFail() {
    assertFalse(MobaParity.sameUpToAtomicOrder(new double[] {Double.NaN}, new double[] {Double.NaN}));
    assertFalse(MobaParity.sameUpToAtomicOrder(new double[] {1.0}, new double[] {1.0, 2.0}));
    assertFalse(MobaParity.sameUpToAtomicOrder(new double[] {1.0, 2.0}, new double[] {1.0}));
  }
}
