// MoBA routing on the GPU (docs/moba.md, "Routing"; MOBA.md semantics 2-3, 7):
//   1. moba_route_d{64,128}: fused tiled top-k. A CTA holds 64 query rows of one head of one
//      sequence, streams that sequence's centroids in tiles of 64 blocks (cp.async, two stages),
//      scores them on tensor cores and keeps each row's best topk-1 past blocks: in registers for
//      topk <= kRegCap + 1 (sorted lists, one per lane and row), in shared memory otherwise. A
//      candidate must first beat the row's thresholds, so only few ever reach a list. The
//      [T, T/B] score matrix never reaches device memory. Output routing [H, T, topk] exactly as
//      MobaRouterCpu.
//   2. Key-block-centric lists, deterministic, no sort, no host sync: moba_list_count (a histogram
//      per (head, block, row tile)), moba_scan_* (exclusive scan of that histogram in its
//      row-major order, which is also the list order), moba_list_scatter (each row tile writes its
//      entries in token order at the scanned offsets). For every (head h, global block b) the list
//      lists[list_off[h*NB + b] .. list_off[h*NB + b + 1]) holds (t << 6 | slot) for every query
//      row t that selected b, ascending in t; the block's own rows come first (they are the
//      smallest tokens that can select it), the rows that chose it as a past block after them.
//
// Scores: q is bf16 and the centroid fp32. Each centroid is split into two bf16 halves
// (moba_centroid_split: hi = bf16(c), lo = bf16(c - hi)), both multiplied on the tensor cores into one
// fp32 accumulator: the score keeps ~16 mantissa bits of c (error ~2^-17 relative, against ~2^-9 if
// c were just rounded to bf16), so only genuine near-ties can differ from the float64 reference.
#include "moba_common.cuh"

namespace moba {

// Rows of the histogram per sequence: the lists of one (head, block) are cut into this many row
// tiles, each counted and scattered by one warp in token order.
constexpr int kListTiles = 16;
// Rows of the routing staged in shared memory per step of a list warp (topk > 32).
constexpr int kListRows = 32;
// Steps (of 32 / topk rows each) whose loads a list warp issues at once (topk <= 32).
constexpr int kListSteps = 32;
// Longest per-lane list kept in registers (topk - 1 <= kRegCap); longer ones live in shared memory.
constexpr int kRegCap = 8;

// Shared memory of the router CTA. The q tile is staged once in stage 1 of the centroid buffer
// (it is read into registers before that stage is first filled), and the register path (REG)
// writes its lists for the final merge over the centroid stages, which are free by then: D = 128
// then takes 65 KB and three CTAs share an SM. The shared-memory path keeps its lists apart.
template <int D>
struct RouteSmem {
  static constexpr size_t c = 0;                        // [2 stages][hi, lo][64][D] bf16
  static constexpr size_t q = c + 2 * kTile * D * 2;    // [64][D] bf16, inside stage 1
  static constexpr size_t kept = c + 4 * kTile * D * 2;  // [64][4] int: length of each list
  static constexpr size_t best = kept + kTile * 4 * 4;    // [64][4][topk-1] fp32, then the same int
  static size_t bytes(int topk) {
    return topk - 1 <= kRegCap ? best : best + size_t(kTile) * 4 * (topk - 1) * 8;
  }
};
static_assert(size_t(kTile) * 4 * kRegCap * 8 <= RouteSmem<64>::kept, "REG lists fit the stages");

// The gate's total order on (score, block): higher score first, ties to the higher block index.
// Being total, it makes the kept top-k independent of the order candidates arrive in.
__device__ __forceinline__ bool ranks_above(float s, int j, float s2, int j2) {
  return s > s2 || (s == s2 && j > j2);
}

// A gate as one 64-bit key whose unsigned order is the gate's order: the score's bits mapped to an
// unsigned that sorts like the float (sign flipped for positives, all bits for negatives) above the
// block index, so one 64-bit compare replaces the score compare, the tie test and the block compare.
// s + 0.f turns -0 into +0, which the float compare treats as equal. Key 0 is below every gate
// (the lowest real key, score -inf and block 0, is 0x007fffff'00000000) and marks an empty entry.
__device__ __forceinline__ uint64_t gate_key(float s, int j) {
  const uint32_t u = __float_as_uint(s + 0.f);
  const uint32_t ord = u ^ (uint32_t(int(u) >> 31) | 0x80000000u);
  return uint64_t(ord) << 32 | uint32_t(j);
}
// The score of a key; -inf for the empty key 0.
__device__ __forceinline__ float key_score(uint64_t k) {
  const uint32_t ord = uint32_t(k >> 32);
  if (k == 0) return -INFINITY;
  return __uint_as_float(ord & 0x80000000u ? ord ^ 0x80000000u : ~ord);
}
__device__ __forceinline__ int key_block(uint64_t k) { return int(uint32_t(k)); }

// Inserts key into the descending list L; what falls off the end is dropped. The list holds its
// cap entries in the last cap slots; the slots before them hold ~0 (nothing ranks above it, so they
// never move): no slot needs a test against cap. The list is sorted, so the slots key ranks above
// are a suffix: every slot is decided from its own compare and its neighbour's, with no chain from
// slot to slot. Compile-time indices keep the list in registers. Key 0 changes nothing.
template <int SLOTS>
__device__ __forceinline__ void reg_insert(uint64_t (&L)[SLOTS], uint64_t key) {
  bool above[SLOTS];
#pragma unroll
  for (int s = 0; s < SLOTS; s++) above[s] = key > L[s];
#pragma unroll
  for (int s = SLOTS - 1; s >= 0; s--)
    if (above[s]) L[s] = s > 0 && above[s > 0 ? s - 1 : 0] ? L[s > 0 ? s - 1 : 0] : key;
}

// Inserts j into the ascending list w (INT_MAX past its entries) the same way: the slots j goes
// before are a suffix.
template <int SLOTS>
__device__ __forceinline__ void asc_insert(int (&w)[SLOTS], int j) {
  bool before[SLOTS];
#pragma unroll
  for (int s = 0; s < SLOTS; s++) before[s] = j < w[s];
#pragma unroll
  for (int s = SLOTS - 1; s >= 0; s--)
    if (before[s]) w[s] = s > 0 && before[s > 0 ? s - 1 : 0] ? w[s > 0 ? s - 1 : 0] : j;
}

// acc[bit >> 1][2 * i + (bit & 1)] by a tree of selects on the bits of bit (depth 4, not 16).
__device__ __forceinline__ float pick(const float (&acc)[8][4], int i, int bit) {
  float a[8], b[4], c[2];
#pragma unroll
  for (int n = 0; n < 8; n++) a[n] = bit & 1 ? acc[n][2 * i + 1] : acc[n][2 * i];
#pragma unroll
  for (int n = 0; n < 4; n++) b[n] = bit & 2 ? a[2 * n + 1] : a[2 * n];
#pragma unroll
  for (int n = 0; n < 2; n++) c[n] = bit & 4 ? b[2 * n + 1] : b[2 * n];
  return bit & 8 ? c[1] : c[0];
}

// q [T, H, D] bf16; centroids split into hi, lo [NB, Hkv, D] bf16 (moba_centroid_split);
// routing [H, T, topk] int. cu_seqlens, cu_blocks, cu_qtiles: [S+1];
// grid (sum of ceil(n_s/64), H), 128 threads, RouteSmem::bytes(topk) of dynamic shared memory.
// SLOTS > 0: topk - 1 <= SLOTS <= kRegCap, lists in registers (SLOTS slots each); SLOTS = 0: lists
// in shared memory.
template <int D, int SLOTS>
__device__ void route(const bf16* __restrict__ q, const bf16* __restrict__ cen_hi,
                      const bf16* __restrict__ cen_lo, int* __restrict__ routing,
                      const int* __restrict__ cu_seqlens, const int* __restrict__ cu_blocks,
                      const int* __restrict__ cu_qtiles, int seqs, int tokens, int heads,
                      int kv_heads, int block_size, int topk) {
  constexpr int CH = D / 8;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* sq = reinterpret_cast<bf16*>(smem + RouteSmem<D>::q);
  bf16* sc = reinterpret_cast<bf16*>(smem + RouteSmem<D>::c);
  constexpr bool REG = SLOTS > 0;
  constexpr int S = REG ? SLOTS : 1;  // the register lists' length (unused without REG)
  const int cap = topk - 1;
  int* kept_of = reinterpret_cast<int*>(smem + RouteSmem<D>::kept);         // [64][4]
  float* best_score =  // [64][4][cap]
      reinterpret_cast<float*>(smem + (REG ? RouteSmem<D>::c : RouteSmem<D>::best));
  int* best_block = reinterpret_cast<int*>(best_score + kTile * 4 * cap);   // [64][4][cap]

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int h = blockIdx.y, g = h / (heads / kv_heads);
  const int s = find_segment(cu_qtiles, seqs, blockIdx.x);
  const int seq_start = cu_seqlens[s], seq_end = cu_seqlens[s + 1];
  const int t0 = seq_start + (blockIdx.x - cu_qtiles[s]) * kTile;
  const int rows = min(kTile, seq_end - t0);
  const int first_block = cu_blocks[s];
  // Blocks before the own block of the tile's last row are all that any row may score.
  const int scored = (t0 + rows - 1 - seq_start) / block_size;

  for (int i = tid; i < kTile * CH; i += kThreads) {
    int r = i / CH, c = i % CH;
    const bf16* src = q + ((size_t)(t0 + min(r, rows - 1)) * heads + h) * D + c * 8;
    cp_async16(reinterpret_cast<char*>(sq) + swz<CH>(r, c), src, r < rows);
  }
  cp_async_commit();
  // Centroids j0..j0+63 of KV head g, hi and lo halves, into stage st. The thread copies chunk lc
  // of rows lr, lr + RP, ...: RP is a multiple of 8, so the swizzle of every copy is that of the
  // first one, and all addresses are a fixed stride apart.
  constexpr int RP = kThreads / CH;
  static_assert(RP % 8 == 0, "rows per pass keep the swizzle");
  const int lr = tid / CH, lc = tid % CH;
  const int c_dst = swz<CH>(lr, lc);
  const size_t c_row0 = ((size_t)first_block * kv_heads + g) * D + lc * 8;  // always readable
  auto load_c = [&](int st, int j0) {
    char* dst = reinterpret_cast<char*>(sc) + (size_t)st * 2 * kTile * D * 2 + c_dst;
    const size_t src = c_row0 + (size_t)(j0 + lr) * kv_heads * D;
#pragma unroll
    for (int m = 0; m < kTile / RP; m++) {
      const bool valid = j0 + lr + m * RP < scored;
      const size_t at = valid ? src + (size_t)m * RP * kv_heads * D : c_row0;
      cp_async16(dst + m * RP * CH * 16, cen_hi + at, valid);
      cp_async16(dst + m * RP * CH * 16 + kTile * D * 2, cen_lo + at, valid);
    }
    cp_async_commit();
  };

  // The thread's rows warp*16 + lane/4 (+8). Each lane of a quad sees a quarter of every tile's
  // columns and keeps its own best-first list per row; the four are merged at the end. No lane
  // waits for another, and a candidate usually costs one compare with the row's threshold.
  const int g4 = lane >> 2, c4 = lane & 3;
  const int r_[2] = {warp * 16 + g4, warp * 16 + g4 + 8};
  int own[2], kept[2] = {0, 0}, worst_block[2] = {-1, -1};
  float worst[2] = {-INFINITY, -INFINITY};  // the list's last entry once it is full
  // REG: the lists themselves as gate keys, best first, in slots S - cap .. S - 1 (reg_insert); 0
  // marks an empty entry, ~0 the unused slots in front.
  uint64_t L[2][S];
  // REG: a score bound per row from earlier tiles and lists: at least cap of the row's
  // candidates score at or above it, so a candidate strictly below it can never win.
  float floor_s[2] = {-INFINITY, -INFINITY};
#pragma unroll
  for (int i = 0; i < 2; i++) {
    own[i] = r_[i] < rows ? (t0 + r_[i] - seq_start) / block_size : 0;
#pragma unroll
    for (int e = 0; e < S; e++) L[i][e] = e < S - cap ? ~0ull : 0ull;
  }
  uint32_t qf[D / 16][4];

  if (scored > 0) {
    load_c(0, 0);
    cp_async_wait<1>();
  } else {
    cp_async_wait<0>();
  }
  __syncthreads();
#pragma unroll
  for (int ks = 0; ks < D / 16; ks++) ldsm_x4(qf[ks], frag_a<CH>(sq, warp * 16, ks * 2, lane));
  __syncthreads();  // stage 1, which held q, is filled next
  for (int j0 = 0, st = 0; j0 < scored; j0 += kTile, st ^= 1) {
    if (j0 + kTile < scored) {
      load_c(st ^ 1, j0 + kTile);
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const bf16* chi = sc + (size_t)st * 2 * kTile * D;
    const bf16* clo = chi + kTile * D;
    float acc[8][4];  // scores of rows 16w.. against blocks j0.. : [16][64]
#pragma unroll
    for (int n = 0; n < 8; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
#pragma unroll
    for (int ks = 0; ks < D / 16; ks++) {
#pragma unroll
      for (int np = 0; np < 4; np++) {
        uint32_t b[4];
        ldsm_x4(b, frag_b<CH>(chi, np * 16, ks * 2, lane));
        mma(acc[2 * np], qf[ks], b[0], b[1]);
        mma(acc[2 * np + 1], qf[ks], b[2], b[3]);
        ldsm_x4(b, frag_b<CH>(clo, np * 16, ks * 2, lane));
        mma(acc[2 * np], qf[ks], b[0], b[1]);
        mma(acc[2 * np + 1], qf[ks], b[2], b[3]);
      }
    }
    if (REG && cap > 0) {
      uint32_t pass[2];
#pragma unroll
      for (int i = 0; i < 2; i++) {
        // Row threshold: the best of the quad's four cap-th kept entries. At least cap entries
        // of the row rank at or above it, so whatever ranks below can never win.
        uint64_t t = L[i][S - 1];
#pragma unroll
        for (int o = 1; o < 4; o <<= 1) {
          const uint64_t u = __shfl_xor_sync(0xffffffffu, t, o);
          t = u > t ? u : t;
        }
        // Score floor from the lists: the lowest of the quad's four ceil(cap/4)-th entries. Each
        // lane holds that many entries at or above it, so at least cap do in all. It is tighter
        // than the row threshold, which only promises the cap entries of one lane.
        static_assert(S <= 8, "ceil(cap/4) is 1 or 2");
        const int fslot = S - cap + (cap <= 4 ? 0 : 1);
        uint64_t fk = 0;
#pragma unroll
        for (int e = 0; e < S; e++) fk = e == fslot ? L[i][e] : fk;  // constant indices
        float f = key_score(fk);
        f = fminf(f, __shfl_xor_sync(0xffffffffu, f, 1));
        f = fminf(f, __shfl_xor_sync(0xffffffffu, f, 2));
        floor_s[i] = fmaxf(floor_s[i], f);
        if (j0 == 0) {
          // On the first tile the lists are empty; the tile's own bound stands in: the lowest of
          // the quad's four second-best scores. Two per lane are at or above it, eight in all,
          // and cap <= S <= 8.
          float m1 = -INFINITY, m2 = -INFINITY;
#pragma unroll
          for (int n = 0; n < 8; n++)
#pragma unroll
            for (int e = 0; e < 2; e++) {
              const int j = n * 8 + c4 * 2 + e;
              const float v = j < own[i] ? acc[n][2 * i + e] : -INFINITY;
              m2 = fmaxf(m2, fminf(m1, v));
              m1 = fmaxf(m1, v);
            }
          m2 = fminf(m2, __shfl_xor_sync(0xffffffffu, m2, 1));
          m2 = fminf(m2, __shfl_xor_sync(0xffffffffu, m2, 2));
          floor_s[i] = fmaxf(floor_s[i], m2);
        }
        // Candidates scoring below either bound can never win. The test is on the score alone,
        // so a few that tie the threshold's score but not its block pass too: the insertion
        // below compares full keys and drops them. NaN scores never pass (nor did they before).
        const float bound = fmaxf(floor_s[i], key_score(t));
        pass[i] = 0;
        if (j0 + kTile <= own[i]) {  // every column of the tile is an earlier block of the row
#pragma unroll
          for (int n = 0; n < 8; n++)
#pragma unroll
            for (int e = 0; e < 2; e++)
              if (acc[n][2 * i + e] >= bound) pass[i] |= 1u << (n * 2 + e);
        } else {
#pragma unroll
          for (int n = 0; n < 8; n++)
#pragma unroll
            for (int e = 0; e < 2; e++)
              if (n * 8 + c4 * 2 + e < own[i] - j0 && acc[n][2 * i + e] >= bound)
                pass[i] |= 1u << (n * 2 + e);
        }
      }
      // One survivor per row per step, both rows in the same step (two independent insertions);
      // the warp runs as many steps as its busiest lane and row need. A lane or row with nothing
      // left inserts key 0, which changes nothing.
      while (__any_sync(0xffffffffu, pass[0] | pass[1])) {
#pragma unroll
        for (int i = 0; i < 2; i++) {
          const int bit = pass[i] ? __ffs(pass[i]) - 1 : 0;
          const uint64_t key =
              pass[i] ? gate_key(pick(acc, i, bit), j0 + (bit >> 1) * 8 + c4 * 2 + (bit & 1)) : 0;
          pass[i] &= pass[i] - 1;
          reg_insert(L[i], key);
        }
      }
    }
    if (!REG && cap > 0) {
#pragma unroll
      for (int i = 0; i < 2; i++) {
        // Row threshold: the best of the quad's four worst kept entries (from full lists only).
        // At least cap entries of the row rank at or above it, so whatever ranks below can never
        // win; it is ~3x tighter than one lane's own worst entry.
        float ts = kept[i] == cap ? worst[i] : -INFINITY;
        int tj = kept[i] == cap ? worst_block[i] : -1;
#pragma unroll
        for (int o = 1; o < 4; o <<= 1) {
          float os = __shfl_xor_sync(0xffffffffu, ts, o);
          int oj = __shfl_xor_sync(0xffffffffu, tj, o);
          if (ranks_above(os, oj, ts, tj)) { ts = os; tj = oj; }
        }
        uint32_t pass = 0;
#pragma unroll
        for (int n = 0; n < 8; n++)
#pragma unroll
          for (int e = 0; e < 2; e++) {
            const int j = j0 + n * 8 + c4 * 2 + e;
            if (j < own[i] && ranks_above(acc[n][2 * i + e], j, ts, tj)) pass |= 1u << (n * 2 + e);
          }
        // Insert the survivors, one per lane per step: the warp runs as many steps as its busiest
        // lane needs rather than one per column position.
        float* bs = best_score + (r_[i] * 4 + c4) * cap;
        int* bb = best_block + (r_[i] * 4 + c4) * cap;
        while (__any_sync(0xffffffffu, pass)) {
          if (pass) {
            const int bit = __ffs(pass) - 1;
            pass &= pass - 1;
            const int j = j0 + (bit >> 1) * 8 + c4 * 2 + (bit & 1);
            const float v = pick(acc, i, bit);
            const bool full = kept[i] == cap;
            if (!full || ranks_above(v, j, worst[i], worst_block[i])) {
              int slot = full ? cap - 1 : kept[i];
              while (slot > 0 && ranks_above(v, j, bs[slot - 1], bb[slot - 1])) {
                bs[slot] = bs[slot - 1];
                bb[slot] = bb[slot - 1];
                slot--;
              }
              bs[slot] = v;
              bb[slot] = j;
              if (!full) kept[i]++;
              if (kept[i] == cap) {
                worst[i] = bs[cap - 1];
                worst_block[i] = bb[cap - 1];
              }
            }
          }
        }
      }
    }
    __syncthreads();  // the stage is refilled next iteration
  }

  if (REG) {  // hand the register lists to the merge below (the stages are free: see the loop end)
#pragma unroll
    for (int i = 0; i < 2; i++) {
      float* bs = best_score + (r_[i] * 4 + c4) * cap;
      int* bb = best_block + (r_[i] * 4 + c4) * cap;
      kept[i] = 0;
#pragma unroll
      for (int e = 0; e < S; e++) {
        const int at = e - (S - cap);  // the list's own slots, best first
        if (at >= 0) {
          bs[at] = key_score(L[i][e]);
          bb[at] = key_block(L[i][e]);
          kept[i] += L[i][e] != 0;
        }
      }
    }
  }
  kept_of[r_[0] * 4 + c4] = kept[0];
  kept_of[r_[1] * 4 + c4] = kept[1];
  __syncwarp();
  // Lanes 0 and 1 of each quad merge the four lists of rows r_[0] and r_[1] (best first, by the
  // same total order), then write the winners ascending, the own block, and -1 padding.
  if (c4 < 2) {
    const int r = c4 ? r_[1] : r_[0], own_r = c4 ? own[1] : own[0];
    if (r < rows) {
      const float* bs = best_score + r * 4 * cap;
      const int* bb = best_block + r * 4 * cap;
      int head[4] = {0, 0, 0, 0}, len[4];
#pragma unroll
      for (int l = 0; l < 4; l++) len[l] = kept_of[r * 4 + l];
      int* out = routing + ((size_t)h * tokens + t0 + r) * topk;
      // REG: the winners so far in registers, ascending, INT_MAX after them (no global read-back).
      int won[S];
#pragma unroll
      for (int e = 0; e < S; e++) won[e] = INT_MAX;
      int n = 0;
      for (; n < cap; n++) {
        int pick = -1;
        float ps = 0.f;
        int pj = -1;
#pragma unroll
        for (int l = 0; l < 4; l++) {
          if (head[l] < len[l]) {
            float v = bs[l * cap + head[l]];
            int j = bb[l * cap + head[l]];
            if (pick < 0 || ranks_above(v, j, ps, pj)) { pick = l; ps = v; pj = j; }
          }
        }
        if (pick < 0) break;
#pragma unroll
        for (int l = 0; l < 4; l++) head[l] += l == pick;
        if (REG) {
          asc_insert(won, pj);
        } else {
          int b = n;  // insertion into out[0..n) by ascending block index
          while (b > 0 && out[b - 1] > pj) { out[b] = out[b - 1]; b--; }
          out[b] = pj;
        }
      }
      if (REG) {
#pragma unroll
        for (int e = 0; e < S; e++)
          if (e < n) out[e] = won[e];
      }
      for (int a = n; a < topk; a++) out[a] = a == n ? own_r : -1;
    }
  }
}

// ---- key-block-centric lists -------------------------------------------------------------------

// Shared body of count and scatter: one warp per (row tile, sequence, head) walks its rows in token
// order with lanes over routing slots; ctr[j] is the running position of the sequence's block j.
template <bool SCATTER>
__device__ void list_walk(const int* __restrict__ routing, int* __restrict__ hist,
                          int* __restrict__ lists, const int* __restrict__ cu_seqlens,
                          const int* __restrict__ cu_blocks, int tokens, int total_blocks, int topk) {
  // [blocks of the sequence], then for topk > 32 [kListRows][topk] staged routing
  extern __shared__ int ctr[];
  const int tile = blockIdx.x, s = blockIdx.y, h = blockIdx.z, lane = threadIdx.x;
  const int seq_start = cu_seqlens[s], n = cu_seqlens[s + 1] - seq_start;
  const int first_block = cu_blocks[s], blocks = cu_blocks[s + 1] - first_block;
  const int per_tile = (n + kListTiles - 1) / kListTiles;
  const int lo = seq_start + min(n, tile * per_tile), hi = seq_start + min(n, (tile + 1) * per_tile);
  // hist [H, NB, kListTiles]: after the scan, the offset of this tile's first entry of each block.
  int* column = hist + ((size_t)h * total_blocks + first_block) * kListTiles + tile;

  for (int j = lane; j < blocks; j += 32) ctr[j] = SCATTER ? column[(size_t)j * kListTiles] : 0;
  __syncwarp();
  if (topk <= 32) {
    // 32 / topk rows per step, lane = row * topk + slot: a step reads 32 / topk whole routing rows,
    // one coalesced load, and kListSteps steps' loads are issued before the first is used. The
    // count needs no order (shared atomics). The scatter: lanes that hold the same block belong to
    // different rows, in token order with the lane index: each takes the counter plus its rank
    // among them, and the last one advances the counter past all of them.
    const int per = 32 / topk, rr = lane / topk, slot = lane % topk;
    const int* src = routing + ((size_t)h * tokens + rr) * topk + slot;
    for (int r0 = lo; r0 < hi; r0 += per * kListSteps) {
      int jv[kListSteps];
#pragma unroll
      for (int u = 0; u < kListSteps; u++) {
        const int r = r0 + u * per;
        jv[u] = rr < per && r + rr < hi ? src[(size_t)r * topk] : -1;
      }
#pragma unroll
      for (int u = 0; u < kListSteps; u++) {
        const int j = jv[u];
        if (!SCATTER) {
          if (j >= 0) atomicAdd(&ctr[j], 1);
          continue;
        }
        const unsigned peers = __match_any_sync(0xffffffffu, j);
        const int rank = __popc(peers & ((1u << lane) - 1)), count = __popc(peers);
        const int base = j >= 0 ? ctr[j] : 0;
        __syncwarp();
        if (j >= 0) {
          lists[base + rank] = ((r0 + u * per + rr) << kSlotBits) | slot;
          if (rank == count - 1) ctr[j] = base + count;
        }
        __syncwarp();
      }
    }
  } else {
    int* staged = ctr + blocks;
    for (int r0 = lo; r0 < hi; r0 += kListRows) {
      const int nr = min(kListRows, hi - r0);
      __syncwarp();
      const int* src = routing + ((size_t)h * tokens + r0) * topk;
      for (int i = lane; i < nr * topk; i += 32) staged[i] = src[i];
      __syncwarp();
      for (int r = 0; r < nr; r++) {
        // A row never lists a block twice, so the lanes of one row touch distinct counters.
        for (int slot = lane; slot < topk; slot += 32) {
          int j = staged[r * topk + slot];
          if (j >= 0) {
            int pos = ctr[j]++;
            if (SCATTER) lists[pos] = ((r0 + r) << kSlotBits) | slot;
          }
        }
        __syncwarp();
      }
    }
  }
  __syncwarp();
  if (!SCATTER)
    for (int j = lane; j < blocks; j += 32) column[(size_t)j * kListTiles] = ctr[j];
}

// Exclusive scan of n ints in chunks of 4096 (1024 threads x 4): partial sums, one CTA over the
// partials, then each chunk again with its base. out has n+1 entries; out[n] is the total.
constexpr int kScanThreads = 1024, kScanChunk = 4096;

__device__ int block_exclusive_scan(int v, int* warp_sums, int* total) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int x = v;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    int y = __shfl_up_sync(0xffffffffu, x, o);
    if (lane >= o) x += y;
  }
  if (lane == 31) warp_sums[warp] = x;
  __syncthreads();
  if (warp == 0) {
    int w = warp_sums[lane];
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      int y = __shfl_up_sync(0xffffffffu, w, o);
      if (lane >= o) w += y;
    }
    warp_sums[lane] = w;
  }
  __syncthreads();
  int result = x - v + (warp > 0 ? warp_sums[warp - 1] : 0);
  if (total) *total = warp_sums[31];
  __syncthreads();
  return result;
}

}  // namespace moba

using namespace moba;

// Register lists of 7 slots serve topk <= 8 (the paper's), 8 slots topk = 9.
#define MOBA_ROUTE(D)                                                                           \
  extern "C" __global__ void __launch_bounds__(kThreads, 3) moba_route_d##D(                   \
      const bf16* q, const bf16* cen_hi, const bf16* cen_lo, int* routing,                     \
      const int* cu_seqlens, const int* cu_blocks, const int* cu_qtiles, int seqs, int tokens, \
      int heads, int kv_heads, int block_size, int topk) {                                     \
    if (topk - 1 <= kRegCap - 1)                                                               \
      route<D, kRegCap - 1>(q, cen_hi, cen_lo, routing, cu_seqlens, cu_blocks, cu_qtiles, seqs, \
                            tokens, heads, kv_heads, block_size, topk);                        \
    else if (topk - 1 <= kRegCap)                                                              \
      route<D, kRegCap>(q, cen_hi, cen_lo, routing, cu_seqlens, cu_blocks, cu_qtiles, seqs,    \
                        tokens, heads, kv_heads, block_size, topk);                            \
    else                                                                                       \
      route<D, 0>(q, cen_hi, cen_lo, routing, cu_seqlens, cu_blocks, cu_qtiles, seqs, tokens,  \
                  heads, kv_heads, block_size, topk);                                          \
  }
MOBA_ROUTE(64)
MOBA_ROUTE(128)

// The router's operands: fp32 centroids [n] -> hi = bf16(c), lo = bf16(c - hi). n a multiple of 2.
extern "C" __global__ void moba_centroid_split(const float* centroids, bf16* hi, bf16* lo, int n) {
  int i = (blockIdx.x * blockDim.x + threadIdx.x) * 2;
  if (i >= n) return;
  float2 c = *reinterpret_cast<const float2*>(centroids + i);
  __nv_bfloat162 h = __floats2bfloat162_rn(c.x, c.y);
  *reinterpret_cast<__nv_bfloat162*>(hi + i) = h;
  *reinterpret_cast<uint32_t*>(lo + i) = pack_bf16(c.x - __low2float(h), c.y - __high2float(h));
}

// grid (kListTiles, S, H), 32 threads, dynamic smem (max blocks per sequence + 32*topk) ints.
// hist [H, NB, kListTiles] gets each tile's count of every block of its sequence.
extern "C" __global__ void moba_list_count(const int* routing, int* hist, const int* cu_seqlens,
                                           const int* cu_blocks, int tokens, int total_blocks,
                                           int topk) {
  list_walk<false>(routing, hist, nullptr, cu_seqlens, cu_blocks, tokens, total_blocks, topk);
}

// Same grid; hist now holds the exclusive scan of the counts. lists [total entries].
extern "C" __global__ void moba_list_scatter(const int* routing, const int* hist_scanned,
                                             int* lists, const int* cu_seqlens,
                                             const int* cu_blocks, int tokens, int total_blocks,
                                             int topk) {
  list_walk<true>(routing, const_cast<int*>(hist_scanned), lists, cu_seqlens, cu_blocks, tokens,
                  total_blocks, topk);
}

// list_off [H*NB + 1]: the start of each (head, block) list, read off the scanned histogram.
extern "C" __global__ void moba_list_offsets(const int* hist_scanned, int* list_off, int heads,
                                             int total_blocks) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= heads * total_blocks) list_off[i] = hist_scanned[(size_t)i * kListTiles];  // last: total
}

extern "C" __global__ void __launch_bounds__(kScanThreads) moba_scan_partials(const int* in,
                                                                              int* partials, int n) {
  __shared__ int warp_sums[32];
  int base = blockIdx.x * kScanChunk + threadIdx.x * 4, v = 0;
#pragma unroll
  for (int i = 0; i < 4; i++) v += base + i < n ? in[base + i] : 0;
  int total;
  block_exclusive_scan(v, warp_sums, &total);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

// One CTA: partials [parts] -> exclusive scan in place, partials[parts] = grand total.
extern "C" __global__ void __launch_bounds__(kScanThreads) moba_scan_bases(int* partials,
                                                                           int parts) {
  __shared__ int warp_sums[32];
  int carry = 0;
  for (int p0 = 0; p0 < parts; p0 += kScanThreads) {
    int i = p0 + threadIdx.x;
    int v = i < parts ? partials[i] : 0, total;
    int x = block_exclusive_scan(v, warp_sums, &total);
    if (i < parts) partials[i] = carry + x;
    carry += total;
  }
  if (threadIdx.x == 0) partials[parts] = carry;
}

// out [n+1] may alias in.
extern "C" __global__ void __launch_bounds__(kScanThreads) moba_scan_apply(const int* in, int* out,
                                                                           const int* partials, int n) {
  __shared__ int warp_sums[32];
  int base = blockIdx.x * kScanChunk + threadIdx.x * 4;
  int v[4], sum = 0;
#pragma unroll
  for (int i = 0; i < 4; i++) {
    v[i] = base + i < n ? in[base + i] : 0;
    sum += v[i];
  }
  int x = partials[blockIdx.x] + block_exclusive_scan(sum, warp_sums, nullptr);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    if (base + i < n) out[base + i] = x;
    x += v[i];
  }
  if (blockIdx.x == gridDim.x - 1 && threadIdx.x == 0) out[n] = partials[gridDim.x];
}
