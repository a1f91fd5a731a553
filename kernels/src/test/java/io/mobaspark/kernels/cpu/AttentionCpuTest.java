package io.mobaspark.kernels.cpu;

import static io.mobaspark.kernels.cpu.CpuTestTensors.assertRejected;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.AttentionKind;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.testing.GradCheck;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** AttentionCpu: forward against a masked reference, gradients, determinism, operand errors. */
class AttentionCpuTest {
  /** Three documents, one of them a single token: everything must restart per document. */
  private static final SeqLayout VARLEN = SeqLayout.of(0, 6, 7, 15);

  private static CpuBackend backend;

  @BeforeAll
  static void open() {
    backend = new CpuBackend(Precision.FLOAT64, 2);
  }

  @AfterAll
  static void close() {
    backend.close();
  }

  /** Each kind with GQA groups of 2 and 4 and a single head; window 1; topk 1, 2 and 3. */
  static Stream<Arguments> configs() {
    return Stream.of(
        Arguments.of(AttentionConfig.dense(4, 2, 3)),
        Arguments.of(AttentionConfig.dense(4, 1, 3)),
        Arguments.of(AttentionConfig.sliding(4, 2, 3, 3)),
        Arguments.of(AttentionConfig.sliding(1, 1, 3, 1)),
        Arguments.of(AttentionConfig.moba(4, 2, 3, 2, 2)),
        Arguments.of(AttentionConfig.moba(4, 1, 3, 3, 1)),
        Arguments.of(AttentionConfig.moba(1, 1, 3, 2, 3)));
  }

  private static AttentionProblem problem(AttentionConfig config, SeqLayout layout, long seed) {
    AttentionProblem p = new AttentionProblem(config, layout, seed);
    if (config.kind() == AttentionKind.MOBA) {
      p.route(backend);
    }
    return p;
  }

  @ParameterizedTest
  @MethodSource("configs")
  void forwardMatchesMaskedReference(AttentionConfig config) {
    AttentionProblem p = problem(config, VARLEN, 11);
    AttentionProblem.Forward expected = ReferenceAttention.forward(p);
    AttentionProblem.Forward actual = p.forward(backend);
    GradCheck.assertClose("out", expected.out(), actual.out(), 0, 1e-13);
    GradCheck.assertClose("lse", expected.lse(), actual.lse(), 0, 1e-13);
  }

  @ParameterizedTest
  @MethodSource("configs")
  void gradientsMatchFiniteDifferences(AttentionConfig config) {
    AttentionProblem p = problem(config, VARLEN, 21); // MOBA: routing now held fixed
    double[] dOut = GradCheck.random(99, p.q.length, 1.0);
    AttentionProblem.Gradients g = p.backward(backend, dOut);
    double eps = 1e-6;
    GradCheck.assertClose("dq", GradCheck.numeric(p.q, () -> p.loss(backend, dOut), eps), g.dq(),
        1e-6, 1e-8);
    GradCheck.assertClose("dk", GradCheck.numeric(p.k, () -> p.loss(backend, dOut), eps), g.dk(),
        1e-6, 1e-8);
    GradCheck.assertClose("dv", GradCheck.numeric(p.v, () -> p.loss(backend, dOut), eps), g.dv(),
        1e-6, 1e-8);
  }

  @Test
  void handWrittenRoutingToEveryPastBlockIsDense() {
    // B=2, N=6: tokens 0-1 sit in block 0, 2-3 in block 1, 4-5 in block 2.
    AttentionProblem moba = new AttentionProblem(AttentionConfig.moba(1, 1, 4, 2, 3),
        SeqLayout.of(0, 6), 3);
    moba.routing = new int[] {0, -1, -1, 0, -1, -1, 0, 1, -1, 0, 1, -1, 0, 1, 2, 0, 1, 2};
    AttentionProblem.Forward expected = moba.with(AttentionConfig.dense(1, 1, 4)).forward(backend);
    AttentionProblem.Forward actual = moba.forward(backend);
    GradCheck.assertClose("out", expected.out(), actual.out(), 0, 1e-13);
    GradCheck.assertClose("lse", expected.lse(), actual.lse(), 0, 1e-13);
  }

  @ParameterizedTest
  @MethodSource("configs")
  void resultsDoNotDependOnThreadCount(AttentionConfig config) {
    SeqLayout layout = SeqLayout.of(0, 40, 41, 107, 180);
    AttentionProblem p = new AttentionProblem(config, layout, 31);
    double[] dOut = GradCheck.random(5, p.q.length, 1.0);
    AttentionProblem.Forward f1;
    AttentionProblem.Gradients g1;
    try (CpuBackend single = new CpuBackend(Precision.FLOAT64, 1)) {
      if (config.kind() == AttentionKind.MOBA) {
        p.route(single);
      }
      f1 = p.forward(single);
      g1 = p.backward(single, dOut);
    }
    int[] routing = p.routing;
    for (int threads : new int[] {2, 3}) {
      try (CpuBackend multi = new CpuBackend(Precision.FLOAT64, threads)) {
        if (routing != null) {
          assertArrayEquals(routing, p.route(multi), "routing, " + threads + " threads");
        }
        AttentionProblem.Forward f = p.forward(multi);
        AttentionProblem.Gradients g = p.backward(multi, dOut);
        assertArrayEquals(f1.out(), f.out(), "out, " + threads + " threads");
        assertArrayEquals(f1.lse(), f.lse(), "lse, " + threads + " threads");
        assertArrayEquals(g1.dq(), g.dq(), "dq, " + threads + " threads");
        assertArrayEquals(g1.dk(), g.dk(), "dk, " + threads + " threads");
        assertArrayEquals(g1.dv(), g.dv(), "dv, " + threads + " threads");
      }
    }
  }

  @Test
  void mobaWithoutRoutingIsRejected() {
    AttentionProblem p = new AttentionProblem(AttentionConfig.moba(2, 1, 4, 2, 2), VARLEN, 1);
    assertRejected(() -> p.forward(backend), "MOBA", "routing");
  }

  @Test
  void routingOfWrongShapeIsRejected() {
    AttentionProblem p = new AttentionProblem(AttentionConfig.moba(2, 1, 4, 2, 2), VARLEN, 1);
    AttentionProblem wrongTopk = p.with(AttentionConfig.moba(2, 1, 4, 2, 3));
    p.routing = wrongTopk.route(backend); // [2, 15, 3] where [2, 15, 2] is expected
    assertRejected(() -> p.forward(backend), "routing", "[2, 15, 3]", "[2, 15, 2]");
  }

  @Test
  void routingForDenseIsRejected() {
    AttentionProblem p = new AttentionProblem(AttentionConfig.moba(2, 1, 4, 2, 2), VARLEN, 1);
    AttentionProblem dense = p.with(AttentionConfig.dense(2, 1, 4));
    dense.routing = p.route(backend);
    assertRejected(() -> dense.forward(backend), "DENSE", "routing");
  }

  @Test
  void routingToAFutureBlockIsRejected() {
    AttentionProblem p = new AttentionProblem(AttentionConfig.moba(1, 1, 4, 2, 2),
        SeqLayout.of(0, 4), 1);
    p.routing = new int[] {1, -1, 0, -1, 0, 1, 0, 1}; // token 0 sits in block 0, not 1
    assertRejected(() -> p.forward(backend), "token 0", "slot 0", "= 1");
  }

  @Test
  void routingWithoutTheOwnBlockIsRejected() {
    AttentionProblem p = new AttentionProblem(AttentionConfig.moba(1, 1, 4, 2, 2),
        SeqLayout.of(0, 4), 1);
    p.routing = new int[] {0, -1, 0, -1, 0, 1, 0, -1}; // token 3 (block 1) lacks block 1
    assertRejected(() -> p.forward(backend), "token 3", "own block 1");
  }

  @Test
  void routingWithPaddingInTheMiddleIsRejected() {
    AttentionProblem p = new AttentionProblem(AttentionConfig.moba(1, 1, 4, 2, 3),
        SeqLayout.of(0, 6), 1);
    p.routing = new int[] {0, -1, -1, 0, -1, -1, 0, 1, -1, 0, 1, -1, -1, 2, -1, 0, 1, 2};
    assertRejected(() -> p.forward(backend), "token 4", "slot 1", "must come last");
  }

  @Test
  void headsNotAMultipleOfKvHeadsIsRejected() {
    assertRejected(() -> AttentionConfig.moba(4, 3, 8, 16, 2), "heads (4)", "kv_heads (3)");
  }
}
