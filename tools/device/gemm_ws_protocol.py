#!/usr/bin/env python3
"""Desk model of the mbarrier protocol of kernels/src/main/cuda/gemm_ws.cuh (ws; wspair: the lab pair), for
changing it without a GPU: random interleavings of each block's producer, its two consumer
warpgroups and the asynchronous landings of copies and forwards. Checks that nothing deadlocks, that
a consumer reads a stage only once it holds its step's data (own A, own B half, the peer's forwarded
half) and that no copy or forward writes a stage a consumer still holds. Aggregates: the 128
producer threads arrive as one (full and half count 1), each consumer warpgroup's 4 warps as one
(empty counts 2 per block that writes the stage). Phases as in PTX: try_wait.parity(P) succeeds once
the phase of parity P has completed, i.e. while the current phase's parity differs from P.

    python3 tools/device/gemm_ws_protocol.py     # a few thousand interleavings, a few seconds
"""
import random

class Bar:
    def __init__(s, count): s.count, s.pending, s.tx, s.phase = count, count, 0, 0
    def _check(s):
        if s.pending == 0 and s.tx == 0:
            s.phase += 1; s.pending = s.count
    def arrive(s, n=1):
        s.pending -= n; assert s.pending >= 0, "too many arrivals"; s._check()
    def expect(s, b): s.tx += b
    def complete_tx(s, b): s.tx -= b; s._check()
    def done(s, parity): return s.phase % 2 != parity

def run(seed, steps, S, pair, lag):
    """One interleaving of items of `steps` K steps each, S stages, cluster pairs or not, forward lag."""
    rnd = random.Random(seed)
    C = 2 if pair else 1
    full = [[Bar(1) for _ in range(S)] for _ in range(C)]          # 128 producer threads as one
    empty = [[Bar(2 * C) for _ in range(S)] for _ in range(C)]     # 8 (16) warps as 2 (4) agents
    half = [[Bar(1) for _ in range(S)] for _ in range(C)]
    data = [[{"A": None, "B0": None, "B1": None} for _ in range(S)] for _ in range(C)]
    held = [[set() for _ in range(S)] for _ in range(C)]           # consumer wgs holding a stage
    pending = []  # in flight: (block, action, is a cp.async barrier arrival); forwards have block -1
    total = sum(steps)

    def write(c, s, part, g):
        assert not held[c][s], f"write of step {g} into stage {s} of block {c} held by {held[c][s]}"
        data[c][s][part] = None
        pending.append((c, lambda: data[c][s].__setitem__(part, g), False))

    def producer(c):
        stage, rnd_, sent, sent_round = 0, 0, -1, 0
        def forward():
            while not half[c][sent].done(sent_round): yield
            s, p = sent, c ^ 1
            sent_data = data[c][s][f"B{c}"]  # what the bulk copy reads: this block's half as it is now
            assert not held[p][s], "forward into a held stage"
            data[p][s][f"B{c}"] = None
            def land(): data[p][s][f"B{c}"] = sent_data; full[p][s].complete_tx(1)
            pending.append((-1, land, False))
        for g in range(total):
            while not empty[c][stage].done(rnd_ ^ 1): yield
            if pair: full[c][stage].expect(1)
            write(c, stage, f"B{c}" if pair else "B0", g)
            if pair:
                pending.append((c, half[c][stage].arrive, True))  # after this thread's B copies
            write(c, stage, "A", g)
            pending.append((c, full[c][stage].arrive, True))
            if pair:
                if sent >= 0: yield from forward()
                sent, sent_round = stage, rnd_
                if lag == 0:
                    yield from forward(); sent = -1
            stage += 1
            if stage == S: stage, rnd_ = 0, rnd_ ^ 1
            yield
        if pair and sent >= 0: yield from forward()

    def consumer(c, w):
        stage, rnd_, hold, g = 0, 0, None, 0
        def release(s):
            held[c][s].discard(w)
            empty[c][s].arrive()
            if pair: empty[c ^ 1][s].arrive()
        for n in steps:
            for step in range(n):
                while not full[c][stage].done(rnd_): yield
                parts = ["A", "B0", "B1"] if pair else ["A", "B0"]
                got = [data[c][stage][p] for p in parts]
                assert got == [g] * len(parts), f"block {c} wg {w} step {g} stage {stage} reads {got}"
                held[c][stage].add(w)
                yield  # wgmmas in flight
                if step > 0: release(hold)
                hold = stage; g += 1
                stage += 1
                if stage == S: stage, rnd_ = 0, rnd_ ^ 1
            if n > 0: release(hold)
            yield  # epilogue

    agents = [producer(c) for c in range(C)] + [consumer(c, w) for c in range(C) for w in range(2)]
    alive = list(agents)
    for _ in range(2_000_000):  # a waiting agent spins, so a deadlock shows as running out of turns
        if not alive and not pending:
            return
        if pending and (not alive or rnd.random() < 0.5):
            # Copies land in any order, but a cp.async barrier arrival only after the copies its
            # block's producer issued before it: landing one lands those first.
            i = rnd.randrange(len(pending))
            block, action, is_arrival = pending[i]
            if is_arrival:
                earlier = [j for j in range(i) if pending[j][0] == block]
                for j in earlier:
                    pending[j][1]()
                for j in reversed(earlier + [i]):
                    del pending[j]
            else:
                del pending[i]
            action()
        else:
            a = rnd.choice(alive)
            try:
                next(a)
            except StopIteration:
                alive.remove(a)
    raise RuntimeError(f"deadlock: steps {steps}, {S} stages, pair {pair}, lag {lag}, seed {seed}")

if __name__ == "__main__":
    cases = 0
    for pair in (False, True):
        for S in (3, 4):
            for lag in ((0, 1) if pair else (1,)):
                for steps in ([1], [2, 1, 3], [5, 5, 5, 5], [12, 12, 12], [1, 1, 1, 1, 1, 1, 1], [7, 2, 9]):
                    for seed in range(150):
                        run(seed, steps, S, pair, lag)
                        cases += 1
    print(f"{cases} interleavings: no deadlock, every read saw its step's data, no write into a held stage")
