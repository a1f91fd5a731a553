// Kernel lab for the MoBA CUDA kernels (router, key-block lists, forward, backward): validates
// every kernel against a float64 CPU reference of docs/moba.md at awkward sizes with MOBA.md's
// tolerance policy, then times routing, forward and backward at the paper's configuration.
//
// Build (from the repository root):
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -Ikernels/src/main/cuda \
//        -o kernels/target-moba/moba_harness kernels/src/lab/cuda/moba_harness.cu
// Run: moba_harness                       all checks, then the benchmark table
//      moba_harness --small               two small cases (for compute-sanitizer)
//      moba_harness --check               checks only
//      moba_harness --table               the benchmark table only
//      moba_harness --bench N [D [MiB]]   one benchmark line: sequence length, head dim, slice
//                                         budget in MiB (default: the policy of slice_budget)
// Every check runs twice, with one slice and with a budget small enough to cut heads, query
// tiles and sequences into several slices, and both must pass.
//
// The kernels are included as source so that the lab launches exactly the production entry points.
#include "moba_router.cu"
#include "moba_fwd.cu"
#include "moba_bwd.cu"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "lab_host.cuh"

// Trivial fp32 centroid kernel for the lab (the product's is centroids.cu): one CTA per global block,
// threads over Hkv*D channels, keys summed in order. centroids [NB, Hkv, D].
__global__ void lab_centroids(const bf16* k, float* centroids, const int* cu_seqlens,
                              const int* cu_blocks, int seqs, int kv_heads, int dim, int block_size) {
  int b = blockIdx.x, s = find_segment(cu_blocks, seqs, b);
  int lo = cu_seqlens[s] + (b - cu_blocks[s]) * block_size;
  int hi = min(lo + block_size, cu_seqlens[s + 1]);
  int width = kv_heads * dim;
  for (int c = threadIdx.x; c < width; c += blockDim.x) {
    float sum = 0.f;
    for (int t = lo; t < hi; t++) sum += __bfloat162float(k[(size_t)t * width + c]);
    centroids[(size_t)b * width + c] = sum / (hi - lo);
  }
}

struct Config {
  std::vector<int> seqlens;
  int heads, kv_heads, dim, block_size, topk;
  std::string name;
};

struct Layout {
  std::vector<int> cu_seqlens, cu_blocks, cu_qtiles, pos, tile_start;
  int tokens = 0, blocks = 0, qtiles = 0, max_blocks = 0;
  explicit Layout(const Config& c) {
    cu_seqlens = {0}; cu_blocks = {0}; cu_qtiles = {0};
    for (int n : c.seqlens) {
      for (int i = 0; i < n; i++) pos.push_back(i);
      for (int i = 0; i < n; i += kTile) tile_start.push_back(tokens + i);
      tokens += n;
      int nb = (n + c.block_size - 1) / c.block_size;
      blocks += nb;
      max_blocks = std::max(max_blocks, nb);
      qtiles += (n + kTile - 1) / kTile;
      cu_seqlens.push_back(tokens); cu_blocks.push_back(blocks); cu_qtiles.push_back(qtiles);
    }
  }
  int tile_end(int q) const { return std::min(tile_start[q] + kTile, cu_seqlens[seq_of(tile_start[q]) + 1]); }
  int seq_of(int t) const { return int(std::upper_bound(cu_seqlens.begin(), cu_seqlens.end(), t) - cu_seqlens.begin()) - 1; }
};

template <typename T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  static size_t allocated;
  void alloc(size_t count) { n = std::max<size_t>(count, 1); CK(cudaMalloc(&p, n * sizeof(T))); allocated += n * sizeof(T); }
  void put(const std::vector<T>& h) { alloc(h.size()); CK(cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice)); }
  std::vector<T> get() const { std::vector<T> h(n); CK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost)); return h; }
  void free() { if (p) { CK(cudaFree(p)); allocated -= n * sizeof(T); } p = nullptr; }
};
template <typename T> size_t Dev<T>::allocated = 0;

// The slices of the forward (heads [h0, h0+hn) x query tiles [q0, q1), rows [ta, tb)) and of the
// backward (KV heads [g0, g0+gn) x sequences [s0, s1)), cut so that the partials of one forward
// slice and the dQ accumulator of one backward slice each fit `budget` bytes (a single sequence
// larger than the budget still makes one backward slice). The two never live at the same time, so
// they share one buffer, the arena.
struct FwdSlice { int h0, hn, q0, q1, ta, tb; };
struct BwdSlice { int g0, gn, s0, s1; };

static void make_slices(const Config& c, const Layout& L, size_t budget, std::vector<FwdSlice>& fwd,
                        std::vector<BwdSlice>& bwd) {
  const int T = L.tokens, H = c.heads, G = c.heads / c.kv_heads, S = int(c.seqlens.size());
  const size_t fwd_unit = size_t(std::max(c.topk - 1, 1)) * (2 * c.dim + 4);  // per (row, head)
  const size_t units = std::max<size_t>(1, budget / fwd_unit);
  fwd.clear();
  if (c.topk == 1 || units >= (size_t)T * H) {
    fwd.push_back({0, H, 0, L.qtiles, 0, T});
  } else if (units >= (size_t)T) {
    const int hn = int(units / T);
    for (int h0 = 0; h0 < H; h0 += hn) fwd.push_back({h0, std::min(hn, H - h0), 0, L.qtiles, 0, T});
  } else {
    const int per = std::max<int>(1, int(units / kTile));
    for (int h = 0; h < H; h++)
      for (int q0 = 0; q0 < L.qtiles; q0 += per) {
        const int q1 = std::min(L.qtiles, q0 + per);
        fwd.push_back({h, 1, q0, q1, L.tile_start[q0], L.tile_end(q1 - 1)});
      }
  }
  const size_t row_head = 4 * size_t(c.dim);  // dq_acc bytes per (row, head)
  bwd.clear();
  if ((size_t)T * H * row_head <= budget) {
    bwd.push_back({0, c.kv_heads, 0, S});
  } else if ((size_t)T * G * row_head <= budget) {
    const int gn = int(budget / ((size_t)T * G * row_head));
    for (int g0 = 0; g0 < c.kv_heads; g0 += gn) bwd.push_back({g0, std::min(gn, c.kv_heads - g0), 0, S});
  } else {
    for (int g = 0; g < c.kv_heads; g++)
      for (int s0 = 0, s1; s0 < S; s0 = s1) {
        s1 = s0 + 1;
        while (s1 < S && (size_t)(L.cu_seqlens[s1 + 1] - L.cu_seqlens[s0]) * G * row_head <= budget) s1++;
        bwd.push_back({g, 1, s0, s1});
      }
  }
}

// Device state of one configuration and the launch sequence of the three phases.
struct Moba {
  Config c;
  Layout L;
  int T, H, Hkv, D, B, K;
  std::vector<FwdSlice> fslices;
  std::vector<BwdSlice> bslices;
  Dev<int> cu_seqlens, cu_blocks, cu_qtiles;
  Dev<uint16_t> q, k, v, o, dout, dq, dk, dv, cen_hi, cen_lo;
  Dev<float> centroids, lse, delta;
  Dev<unsigned char> arena;  // one forward slice's partials, or one backward slice's dq_acc
  Dev<int> routing, hist, lists, list_off, seg, chunks, chunk_off, scan_tmp;
  size_t part_bytes = 0;  // part_o of the largest forward slice; part_lse follows it in the arena
  // When set, forward() records an event before each slice's plan, past and own kernels and after
  // the last (the forward's split by kernel; not used by the timed runs).
  std::vector<cudaEvent_t>* marks = nullptr;

  Moba(const Config& cfg, size_t budget) : c(cfg), L(cfg) {
    T = L.tokens; H = c.heads; Hkv = c.kv_heads; D = c.dim; B = c.block_size; K = c.topk;
    make_slices(c, L, budget, fslices, bslices);
    cu_seqlens.put(L.cu_seqlens); cu_blocks.put(L.cu_blocks); cu_qtiles.put(L.cu_qtiles);
    size_t qn = (size_t)T * H * D, kn = (size_t)T * Hkv * D;
    q.alloc(qn); o.alloc(qn); dout.alloc(qn); dq.alloc(qn);
    k.alloc(kn); v.alloc(kn); dk.alloc(kn); dv.alloc(kn);
    size_t max_rows = 0, arena_bytes = 0;
    int max_hn = 1;
    for (auto& f : fslices) {
      max_rows = std::max(max_rows, (size_t)f.hn * (f.tb - f.ta));
      max_hn = std::max(max_hn, f.hn);
    }
    part_bytes = max_rows * (K - 1) * D * 2;
    arena_bytes = part_bytes + max_rows * (K - 1) * 4;
    for (auto& b : bslices)
      arena_bytes = std::max(arena_bytes, (size_t)(L.cu_seqlens[b.s1] - L.cu_seqlens[b.s0]) * b.gn * (H / Hkv) * D * 4);
    arena.alloc(arena_bytes);
    centroids.alloc((size_t)L.blocks * Hkv * D);
    cen_hi.alloc(centroids.n); cen_lo.alloc(centroids.n);
    lse.alloc((size_t)H * T); delta.alloc((size_t)H * T);
    routing.alloc((size_t)H * T * K);
    hist.alloc((size_t)H * L.blocks * kListTiles + 1);
    lists.alloc((size_t)H * T * K);
    list_off.alloc((size_t)H * L.blocks + 1);
    seg.alloc((size_t)max_hn * L.blocks * 2);
    chunks.alloc((size_t)max_hn * L.blocks);
    chunk_off.alloc((size_t)max_hn * L.blocks + 1);
    scan_tmp.alloc(hist.n / kScanChunk + 2);
    CK(cudaFuncSetAttribute(D == 64 ? moba_route_d64 : moba_route_d128, cudaFuncAttributeMaxDynamicSharedMemorySize, 227 * 1024));
    CK(cudaFuncSetAttribute(D == 64 ? moba_fwd_past_d64 : moba_fwd_past_d128, cudaFuncAttributeMaxDynamicSharedMemorySize, 227 * 1024));
    CK(cudaFuncSetAttribute(D == 64 ? moba_fwd_past_wide_d64 : moba_fwd_past_wide_d128, cudaFuncAttributeMaxDynamicSharedMemorySize, 227 * 1024));
    CK(cudaFuncSetAttribute(D == 64 ? moba_fwd_own_d64 : moba_fwd_own_d128, cudaFuncAttributeMaxDynamicSharedMemorySize, 227 * 1024));
    for (auto f : {moba_bwd_main_d64_k64, moba_bwd_main_d64_k128, moba_bwd_main_d128_k64, moba_bwd_main_d128_k128})
      CK(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, 227 * 1024));
  }
  ~Moba() {
    for (auto* d : {&cu_seqlens, &cu_blocks, &cu_qtiles, &routing, &hist, &lists, &list_off, &seg, &chunks, &chunk_off, &scan_tmp}) d->free();
    for (auto* d : {&q, &k, &v, &o, &dout, &dq, &dk, &dv, &cen_hi, &cen_lo}) d->free();
    for (auto* d : {&centroids, &lse, &delta}) d->free();
    arena.free();
  }
  size_t qkv_bytes() const { return 2 * (q.n + k.n + v.n); }
  // Kept between the phases as op outputs beside O: routing (the router's), lse (the forward's),
  // centroids (centroids.cu's).
  size_t saved_bytes() const { return (routing.n + lse.n + centroids.n) * 4; }
  // Everything else the kernels allocate.
  size_t transient_bytes() const {
    return arena.n + (cen_hi.n + cen_lo.n) * 2 + delta.n * 4 +
           (hist.n + lists.n + list_off.n + seg.n + chunks.n + chunk_off.n + scan_tmp.n) * 4;
  }

  void scan(const int* in, int* out, int n) {
    int parts = (n + kScanChunk - 1) / kScanChunk;
    moba_scan_partials<<<parts, kScanThreads>>>(in, scan_tmp.p, n); LAUNCHED();
    moba_scan_bases<<<1, kScanThreads>>>(scan_tmp.p, parts); LAUNCHED();
    moba_scan_apply<<<parts, kScanThreads>>>(in, out, scan_tmp.p, n); LAUNCHED();
  }

  void route() {
    int S = int(c.seqlens.size());
    lab_centroids<<<L.blocks, 256>>>((const bf16*)k.p, centroids.p, cu_seqlens.p, cu_blocks.p, S, Hkv, D, B); LAUNCHED();
    int cn = int(centroids.n);
    moba_centroid_split<<<(cn / 2 + 255) / 256, 256>>>(centroids.p, (bf16*)cen_hi.p, (bf16*)cen_lo.p, cn); LAUNCHED();
    dim3 grid(L.qtiles, H);
    size_t sm = D == 64 ? RouteSmem<64>::bytes(K) : RouteSmem<128>::bytes(K);
    if (D == 64) moba_route_d64<<<grid, kThreads, sm>>>((const bf16*)q.p, (const bf16*)cen_hi.p, (const bf16*)cen_lo.p, routing.p, cu_seqlens.p, cu_blocks.p, cu_qtiles.p, S, T, H, Hkv, B, K);
    else moba_route_d128<<<grid, kThreads, sm>>>((const bf16*)q.p, (const bf16*)cen_hi.p, (const bf16*)cen_lo.p, routing.p, cu_seqlens.p, cu_blocks.p, cu_qtiles.p, S, T, H, Hkv, B, K);
    LAUNCHED();
  }

  void build_lists() {
    int S = int(c.seqlens.size());
    dim3 lg(kListTiles, S, H);
    size_t lsm = (L.max_blocks + kListRows * K) * sizeof(int);
    moba_list_count<<<lg, 32, lsm>>>(routing.p, hist.p, cu_seqlens.p, cu_blocks.p, T, L.blocks, K); LAUNCHED();
    int n = H * L.blocks * kListTiles;
    scan(hist.p, hist.p, n);
    moba_list_scatter<<<lg, 32, lsm>>>(routing.p, hist.p, lists.p, cu_seqlens.p, cu_blocks.p, T, L.blocks, K); LAUNCHED();
    int pairs = H * L.blocks;
    moba_list_offsets<<<(pairs + 256) / 256, 256>>>(hist.p, list_off.p, H, L.blocks); LAUNCHED();
  }

  void forward() {
    int S = int(c.seqlens.size());
    float scale = 1.f / sqrtf(float(D));
    bf16* part_o = reinterpret_cast<bf16*>(arena.p);
    float* part_lse = reinterpret_cast<float*>(arena.p + part_bytes);
    auto mark = [&](int i) { if (marks) CK(cudaEventRecord((*marks)[i])); };
    for (size_t si = 0; si < fslices.size(); si++) {
      const FwdSlice& f = fslices[si];
      mark(3 * si);
      if (K > 1) {
        int pairs = f.hn * L.blocks;
        moba_fwd_plan<<<(pairs + 255) / 256, 256>>>(lists.p, list_off.p, seg.p, chunks.p, cu_seqlens.p, cu_blocks.p, S, L.blocks, B, f.h0, f.hn, f.ta, f.tb); LAUNCHED();
        scan(chunks.p, chunk_off.p, pairs);
        mark(3 * si + 1);
        // Work items of past_item_rows(B) rows; B > kResidentKeys streams K and V.
        long long bound = (long long)pairs + (long long)f.hn * (f.tb - f.ta) * (K - 1) / past_item_rows(B);
        bool resident = B <= kResidentKeys;
        size_t smem = resident ? (D == 64 ? PastSmem<64>::bytes : PastSmem<128>::bytes) : (D == 64 ? FwdSmem<64>::bytes : FwdSmem<128>::bytes);
        auto past = resident ? (D == 64 ? moba_fwd_past_d64 : moba_fwd_past_d128) : (D == 64 ? moba_fwd_past_wide_d64 : moba_fwd_past_wide_d128);
        past<<<(unsigned)bound, kThreads, smem>>>((const bf16*)q.p, (const bf16*)k.p, (const bf16*)v.p, part_o, part_lse, lists.p, seg.p, chunk_off.p, cu_seqlens.p, cu_blocks.p, S, H, Hkv, L.blocks, B, K, scale, f.h0, f.hn, f.ta, f.tb);
        LAUNCHED();
      } else {
        mark(3 * si + 1);
      }
      mark(3 * si + 2);
      dim3 grid(f.q1 - f.q0, f.hn);
      if (D == 64) moba_fwd_own_d64<<<grid, kThreads, FwdSmem<64>::bytes>>>((const bf16*)q.p, (const bf16*)k.p, (const bf16*)v.p, (bf16*)o.p, lse.p, part_o, part_lse, routing.p, cu_seqlens.p, cu_qtiles.p, S, T, H, Hkv, B, K, scale, f.h0, f.q0, f.ta, f.tb);
      else moba_fwd_own_d128<<<grid, kThreads, FwdSmem<128>::bytes>>>((const bf16*)q.p, (const bf16*)k.p, (const bf16*)v.p, (bf16*)o.p, lse.p, part_o, part_lse, routing.p, cu_seqlens.p, cu_qtiles.p, S, T, H, Hkv, B, K, scale, f.h0, f.q0, f.ta, f.tb);
      LAUNCHED();
    }
    mark(3 * fslices.size());
  }

  // The forward's time by kernel (ms, summed over the slices): plan and scan, past, own.
  void forward_split(float out[3]) {
    std::vector<cudaEvent_t> ev(3 * fslices.size() + 1);
    for (auto& e : ev) CK(cudaEventCreate(&e));
    marks = &ev;
    forward();
    marks = nullptr;
    CK(cudaEventSynchronize(ev.back()));
    out[0] = out[1] = out[2] = 0.f;
    for (size_t i = 0; i + 1 < ev.size(); i++) {
      float t;
      CK(cudaEventElapsedTime(&t, ev[i], ev[i + 1]));
      out[i % 3] += t;
    }
    for (auto& e : ev) CK(cudaEventDestroy(e));
  }

  void backward() {
    int S = int(c.seqlens.size());
    float scale = 1.f / sqrtf(float(D));
    float* dq_acc = reinterpret_cast<float*>(arena.p);
    moba_bwd_delta<<<unsigned(((size_t)T * H * D + 1023) / 1024), 128>>>((const bf16*)o.p, (const bf16*)dout.p, delta.p, T, H, D); LAUNCHED();
    // 128-key tiles where the block size is a multiple of 128, else 64.
    const int kt = B % 128 == 0 ? 128 : 64, G = H / Hkv;
    auto kern = D == 64 ? (kt == 64 ? moba_bwd_main_d64_k64 : moba_bwd_main_d64_k128)
                        : (kt == 64 ? moba_bwd_main_d128_k64 : moba_bwd_main_d128_k128);
    // The lab is built for sm_90a, whose 128 x 128 tile stages dQ (BwdSmem::bytes_staged_dq).
    size_t sm = D == 64 ? (kt == 64 ? BwdSmem<64, 64>::bytes : BwdSmem<64, 128>::bytes)
                        : (kt == 64 ? BwdSmem<128, 64>::bytes : BwdSmem<128, 128>::bytes_staged_dq);
    for (const BwdSlice& b : bslices) {
      const int ta = L.cu_seqlens[b.s0], rows = L.cu_seqlens[b.s1] - ta, b0 = L.cu_blocks[b.s0];
      const int width = b.gn * G * D;
      CK(cudaMemsetAsync(dq_acc, 0, (size_t)rows * width * 4));
      dim3 grid((L.cu_blocks[b.s1] - b0) * ((B + kt - 1) / kt), b.gn);
      kern<<<grid, 2 * kt, sm>>>((const bf16*)q.p, (const bf16*)k.p, (const bf16*)v.p, (const bf16*)dout.p, lse.p, delta.p, lists.p, list_off.p, dq_acc, (bf16*)dk.p, (bf16*)dv.p, cu_seqlens.p, cu_blocks.p, S, T, H, Hkv, L.blocks, B, scale, b0, b.g0, ta);
      LAUNCHED();
      size_t quads = (size_t)rows * width / 4;
      moba_bwd_dq_convert<<<unsigned((quads + 255) / 256), 256>>>(dq_acc, (bf16*)dq.p, rows, width, H, D, b.g0 * G, ta, scale); LAUNCHED();
    }
  }

  void fill_inputs(uint64_t seed) {
    int i = 0;
    for (auto* d : {&q, &k, &v, &dout}) {
      lab_fill_normal<<<1024, 256>>>((bf16*)d->p, d->n, seed * 4 + i++); LAUNCHED();
    }
  }
  void poison() {  // every output must be written: NaN everywhere first
    for (auto* d : {&o, &dq, &dk, &dv}) CK(cudaMemset(d->p, 0xff, d->n * 2));
    CK(cudaMemset(lse.p, 0xff, lse.n * 4));
    CK(cudaMemset(routing.p, 0x7f, routing.n * 4));
  }
};

// ---- CPU references ------------------------------------------------------------------------------

struct Host {
  const Config& c;
  const Layout& L;
  std::vector<float> q, k, v, dout;  // bf16 values as float
  Host(const Config& c, const Layout& L, Moba& m) : c(c), L(L) {
    auto f = [](const Dev<uint16_t>& d) { auto h = d.get(); std::vector<float> x(h.size()); for (size_t i = 0; i < h.size(); i++) x[i] = from_bf16(h[i]); return x; };
    q = f(m.q); k = f(m.k); v = f(m.v); dout = f(m.dout);
  }
  // float64 centroids [NB, Hkv, D]
  std::vector<double> centroids() const {
    int W = c.kv_heads * c.dim;
    std::vector<double> cen((size_t)L.blocks * W, 0.0);
    for (size_t s = 0; s + 1 < L.cu_seqlens.size(); s++)
      for (int b = L.cu_blocks[s]; b < L.cu_blocks[s + 1]; b++) {
        int lo = L.cu_seqlens[s] + (b - L.cu_blocks[s]) * c.block_size, hi = std::min(lo + c.block_size, L.cu_seqlens[s + 1]);
        for (int t = lo; t < hi; t++) for (int i = 0; i < W; i++) cen[(size_t)b * W + i] += k[(size_t)t * W + i];
        for (int i = 0; i < W; i++) cen[(size_t)b * W + i] /= (hi - lo);
      }
    return cen;
  }
  double score(const std::vector<double>& cen, int h, int t, int j) const {
    int g = h / (c.heads / c.kv_heads), D = c.dim;
    int b = L.cu_blocks[L.seq_of(t)] + j;
    double s = 0;
    for (int d = 0; d < D; d++) s += double(q[((size_t)t * c.heads + h) * D + d]) * cen[((size_t)b * c.kv_heads + g) * D + d];
    return s;
  }
  // MobaRouterCpu's rules, float64 scores.
  std::vector<int> route(const std::vector<double>& cen) const {
    int T = L.tokens, K = c.topk;
    std::vector<int> out((size_t)c.heads * T * K, -1);
    for (int h = 0; h < c.heads; h++)
      for (int t = 0; t < T; t++) {
        int own = L.pos[t] / c.block_size;
        std::vector<std::pair<double, int>> cand;
        for (int j = 0; j < own; j++) cand.push_back({score(cen, h, t, j), j});
        std::stable_sort(cand.begin(), cand.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second > b.second); });
        std::vector<int> chosen;
        for (int i = 0; i < (int)cand.size() && i < K - 1; i++) chosen.push_back(cand[i].second);
        std::sort(chosen.begin(), chosen.end());
        chosen.push_back(own);
        for (size_t i = 0; i < chosen.size(); i++) out[((size_t)h * T + t) * K + i] = chosen[i];
      }
    return out;
  }
  // Keys of row (h, t) under routing, ascending.
  std::vector<int> keys(const std::vector<int>& routing, int h, int t, bool dense) const {
    std::vector<int> ks;
    int start = t - L.pos[t];
    if (dense) { for (int j = start; j <= t; j++) ks.push_back(j); return ks; }
    for (int i = 0; i < c.topk; i++) {
      int j = routing[((size_t)h * L.tokens + t) * c.topk + i];
      if (j < 0) break;
      int lo = start + j * c.block_size, hi = std::min(lo + c.block_size, t + 1);
      for (int key = lo; key < hi; key++) ks.push_back(key);
    }
    return ks;
  }
  // Forward and backward in precision R (double: reference; float: naive). Outputs as double;
  // the naive path rounds P, dS, O and the gradients to bf16 where the kernels do.
  template <typename R>
  void attention(const std::vector<int>& routing, bool dense, std::vector<double>& o, std::vector<double>& lse,
                 std::vector<double>& dq, std::vector<double>& dk, std::vector<double>& dv) const {
    int T = L.tokens, H = c.heads, Hkv = c.kv_heads, D = c.dim, G = H / Hkv;
    R scale = R(1) / std::sqrt(R(D));
    bool naive = sizeof(R) == 4;
    auto rb = [&](R x) { return naive ? double(round_bf16(float(x))) : double(x); };
    o.assign((size_t)T * H * D, 0); lse.assign((size_t)H * T, 0);
    dq.assign(o.size(), 0); dk.assign((size_t)T * Hkv * D, 0); dv.assign(dk.size(), 0);
    std::vector<R> acc_dk(dk.size(), 0), acc_dv(dk.size(), 0);
    for (int h = 0; h < H; h++)
      for (int t = 0; t < T; t++) {
        int g = h / G;
        auto ks = keys(routing, h, t, dense);
        const float* qr = &q[((size_t)t * H + h) * D];
        std::vector<R> s(ks.size()), p(ks.size()), out(D, 0), dqr(D, 0);
        R mx = -INFINITY;
        for (size_t i = 0; i < ks.size(); i++) {
          const float* kr = &k[((size_t)ks[i] * Hkv + g) * D];
          R d = 0;
          for (int x = 0; x < D; x++) d += R(qr[x]) * R(kr[x]);
          s[i] = d * scale;
          mx = std::max(mx, s[i]);
        }
        R sum = 0;
        for (size_t i = 0; i < ks.size(); i++) sum += std::exp(s[i] - mx);
        R l = mx + std::log(sum);
        for (size_t i = 0; i < ks.size(); i++) {
          p[i] = std::exp(s[i] - l);
          if (naive) p[i] = R(rb(p[i]));  // the kernels feed P to the tensor cores as bf16
          const float* vr = &v[((size_t)ks[i] * Hkv + g) * D];
          for (int x = 0; x < D; x++) out[x] += p[i] * R(vr[x]);
        }
        lse[(size_t)h * T + t] = double(l);
        const float* dor = &dout[((size_t)t * H + h) * D];
        R delta = 0;
        for (int x = 0; x < D; x++) {
          o[((size_t)t * H + h) * D + x] = rb(out[x]);
          delta += R(dor[x]) * (naive ? R(rb(out[x])) : out[x]);
        }
        for (size_t i = 0; i < ks.size(); i++) {
          const float* kr = &k[((size_t)ks[i] * Hkv + g) * D];
          const float* vr = &v[((size_t)ks[i] * Hkv + g) * D];
          R dp = 0;
          for (int x = 0; x < D; x++) dp += R(dor[x]) * R(vr[x]);
          R ds = p[i] * (dp - delta);
          if (naive) ds = R(rb(ds));  // and dS
          size_t kb = ((size_t)ks[i] * Hkv + g) * D;
          for (int x = 0; x < D; x++) {
            dqr[x] += scale * ds * R(kr[x]);
            acc_dk[kb + x] += scale * ds * R(qr[x]);
            acc_dv[kb + x] += p[i] * R(dor[x]);
          }
        }
        for (int x = 0; x < D; x++) dq[((size_t)t * H + h) * D + x] = rb(dqr[x]);
      }
    for (size_t i = 0; i < dk.size(); i++) { dk[i] = rb(acc_dk[i]); dv[i] = rb(acc_dv[i]); }
  }
};

static double max_err(const std::vector<double>& a, const std::vector<double>& ref) {
  double m = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    double d = std::fabs(a[i] - ref[i]);
    if (!(d <= m)) m = d;  // NaN sticks
  }
  return m;
}
static std::vector<double> as_double(const std::vector<uint16_t>& h) { std::vector<double> x(h.size()); for (size_t i = 0; i < h.size(); i++) x[i] = from_bf16(h[i]); return x; }
static std::vector<double> as_double(const std::vector<float>& h) { return std::vector<double>(h.begin(), h.end()); }

static bool verdict(const char* what, double kernel, double naive, double factor) {
  bool ok = kernel <= factor * naive + 1e-5;
  printf("    %-4s kernel %.3e  naive %.3e  %s\n", what, kernel, naive, ok ? "ok" : "FAIL");
  return ok;
}

static bool check(const Config& cfg, uint64_t seed) {
  Moba m(cfg, SIZE_MAX);  // one slice
  m.fill_inputs(seed);
  m.poison();
  m.route(); m.build_lists(); m.forward(); m.backward();
  CK(cudaDeviceSynchronize());
  Host host(cfg, m.L, m);
  int T = m.T, K = m.K;
  printf("  %-34s T=%d H=%d Hkv=%d D=%d B=%d k=%d\n", cfg.name.c_str(), T, m.H, m.Hkv, m.D, m.B, K);

  // Routing: equal sets, or differing only on near-ties of the float64 scores.
  auto cen = host.centroids();
  auto ref = host.route(cen);
  auto got = m.routing.get();
  got.resize((size_t)m.H * T * K);
  long differ = 0, bad = 0;
  for (int h = 0; h < m.H; h++)
    for (int t = 0; t < T; t++) {
      const int* a = &got[((size_t)h * T + t) * K];
      const int* r = &ref[((size_t)h * T + t) * K];
      if (std::equal(a, a + K, r)) continue;
      differ++;
      int own = m.L.pos[t] / m.B;
      std::vector<int> ra, rr;
      for (int i = 0; i < K; i++) { if (a[i] >= 0 && a[i] != own) ra.push_back(a[i]); if (r[i] >= 0 && r[i] != own) rr.push_back(r[i]); }
      // structure: ascending, own block last, -1 padding
      bool shape_ok = ra.size() == rr.size();
      for (int i = 0; i < K && shape_ok; i++) shape_ok = (i < (int)ra.size()) ? a[i] == ra[i] : (i == (int)ra.size() ? a[i] == own : a[i] == -1);
      double thr = INFINITY;
      for (int j : rr) thr = std::min(thr, host.score(cen, h, t, j));
      std::vector<int> sym;
      std::set_symmetric_difference(ra.begin(), ra.end(), rr.begin(), rr.end(), std::back_inserter(sym));
      for (int j : sym) {
        double s = host.score(cen, h, t, j);
        if (std::fabs(s - thr) > 1e-3 * std::max(std::fabs(s), std::fabs(thr)) + 1e-6) shape_ok = false;
      }
      if (!shape_ok) bad++;
    }
  bool ok = bad == 0;
  printf("    routing rows %ld, differing %ld (near-ties allowed), wrong %ld  %s\n", (long)m.H * T, differ, bad, ok ? "ok" : "FAIL");

  // Attention against the float64 and the naive fp32 reference, both on the kernel's routing.
  std::vector<double> o64, l64, dq64, dk64, dv64, o32, l32, dq32, dk32, dv32;
  host.attention<double>(got, false, o64, l64, dq64, dk64, dv64);
  host.attention<float>(got, false, o32, l32, dq32, dk32, dv32);
  auto go = as_double(m.o.get()), gl = as_double(m.lse.get());
  auto gdq = as_double(m.dq.get()), gdk = as_double(m.dk.get()), gdv = as_double(m.dv.get());
  ok &= verdict("O", max_err(go, o64), max_err(o32, o64), 2);
  ok &= verdict("LSE", max_err(gl, l64), max_err(l32, l64), 2);
  ok &= verdict("dQ", max_err(gdq, dq64), max_err(dq32, dq64), 3);
  ok &= verdict("dK", max_err(gdk, dk64), max_err(dk32, dk64), 3);
  ok &= verdict("dV", max_err(gdv, dv64), max_err(dv32, dv64), 3);
  if (K >= m.L.max_blocks) {  // MOBA.md 5: exactly dense causal attention
    std::vector<double> od, ld, a, b, cc;
    host.attention<double>(got, true, od, ld, a, b, cc);
    ok &= verdict("Oden", max_err(go, od), max_err(o32, od), 2);
  }
  // Backward again: dK, dV bitwise equal; dQ only atomic-order rounding.
  auto dk1 = m.dk.get(), dv1 = m.dv.get(), dq1 = m.dq.get();
  m.backward();
  CK(cudaDeviceSynchronize());
  bool same = dk1 == m.dk.get() && dv1 == m.dv.get();
  double dqd = max_err(as_double(m.dq.get()), as_double(dq1));
  printf("    backward twice: dK dV %s, max |dQ1 - dQ2| %.2e\n", same ? "bitwise equal" : "DIFFER", dqd);
  ok &= same && dqd <= 1e-2;

  // Sliced: room for the partials of ~150 (row, head) pairs, so heads, query tiles and (for dQ)
  // sequences are cut into slices. Same inputs, same references; O, LSE, dK and dV must not change
  // by a bit (each row's and key's sums run in a fixed order whatever the slicing).
  Moba ms(cfg, size_t(150) * std::max(K - 1, 1) * (2 * m.D + 4));
  ms.fill_inputs(seed);
  ms.poison();
  ms.route(); ms.build_lists(); ms.forward(); ms.backward();
  CK(cudaDeviceSynchronize());
  auto so = as_double(ms.o.get()), sl = as_double(ms.lse.get()), sdq = as_double(ms.dq.get());
  printf("    sliced (%zu forward, %zu backward slices):\n", ms.fslices.size(), ms.bslices.size());
  ok &= verdict("O", max_err(so, o64), max_err(o32, o64), 2);
  ok &= verdict("LSE", max_err(sl, l64), max_err(l32, l64), 2);
  ok &= verdict("dQ", max_err(sdq, dq64), max_err(dq32, dq64), 3);
  bool same_s = so == go && sl == gl && ms.dk.get() == dk1 && ms.dv.get() == dv1 && ms.routing.get() == m.routing.get();
  double dqs = max_err(sdq, as_double(dq1));
  printf("    sliced vs one slice: routing O LSE dK dV %s, max |dQ| diff %.2e\n", same_s ? "bitwise equal" : "DIFFER", dqs);
  ok &= same_s && dqs <= 1e-2;
  return ok;
}

static float median(std::vector<float> x) { std::sort(x.begin(), x.end()); return x[x.size() / 2]; }

// The slice budget: 4% of the q, k, v bytes, at least 512 MiB. Long sequences thus keep the
// partials and dq_acc near 4% of QKV; short ones run in few slices, whose launches stay large
// (measured at 64K: 16 forward slices cost 7% over one, see docs/perf/moba.md).
static size_t slice_budget(size_t qkv_bytes) { return std::max(qkv_bytes / 25, size_t(512) << 20); }

// One benchmark line: batch 2, 16 heads, B = 128, k = 8, causal; head dim D. budget 0: the policy.
static void bench(int seqlen, int dim, size_t budget, int reps) {
  const int batch = 2;
  Config cfg{std::vector<int>(batch, seqlen), 16, 16, dim, 128, 8, "bench"};
  size_t qkv = 3 * 2 * (size_t)batch * seqlen * 16 * dim;
  if (budget == 0) budget = slice_budget(qkv);
  size_t free0, total_b;
  CK(cudaMemGetInfo(&free0, &total_b));
  Moba m(cfg, budget);
  m.fill_inputs(7);
  cudaEvent_t ev[5];
  for (auto& e : ev) CK(cudaEventCreate(&e));
  std::vector<float> tr, tl, tf, tb;
  const int warm = seqlen >= 262144 ? 1 : 2;
  for (int i = 0; i < reps + warm; i++) {
    CK(cudaEventRecord(ev[0])); m.route();
    CK(cudaEventRecord(ev[1])); m.build_lists();
    CK(cudaEventRecord(ev[2])); m.forward();
    CK(cudaEventRecord(ev[3])); m.backward();
    CK(cudaEventRecord(ev[4])); CK(cudaEventSynchronize(ev[4]));
    float t[4];
    for (int j = 0; j < 4; j++) CK(cudaEventElapsedTime(&t[j], ev[j], ev[j + 1]));
    if (i >= warm) { tr.push_back(t[0]); tl.push_back(t[1]); tf.push_back(t[2]); tb.push_back(t[3]); }
  }
  // The forward's split by kernel, median of 3 more forwards with events between the launches.
  std::vector<float> sp[3];
  for (int i = 0; i < 3; i++) {
    float part[3];
    m.forward_split(part);
    for (int j = 0; j < 3; j++) sp[j].push_back(part[j]);
  }
  size_t free1;
  CK(cudaMemGetInfo(&free1, &total_b));
  for (auto& e : ev) CK(cudaEventDestroy(e));
  // Attended (query, key) pairs from the routing: 4*D flops each forward, 10*D backward; eligible
  // (query, past block) gate scores: 2*D each.
  auto r = m.routing.get();
  double pairs = 0, gates = 0;
  for (int h = 0; h < m.H; h++)
    for (int t = 0; t < m.T; t++) {
      int p = m.L.pos[t], own = p / m.B;
      gates += own;
      for (int i = 0; i < m.K; i++) {
        int j = r[((size_t)h * m.T + t) * m.K + i];
        if (j < 0) break;
        pairs += j == own ? p - own * m.B + 1 : m.B;
      }
    }
  double ff = 4.0 * m.D * pairs, fb = 10.0 * m.D * pairs, fr = 2.0 * m.D * gates;
  // Fewest bytes: router q, k in, routing out; forward q, k, v in, o, lse out; backward q, k, v,
  // o, dO, lse in, dq, dk, dv out.
  double qb = 2.0 * m.q.n, kb = 2.0 * m.k.n, lb = 4.0 * m.lse.n;
  double br = qb + kb + 4.0 * m.routing.n, bf = qb + 2 * kb + qb + lb, bb = 3 * qb + 2 * kb + lb + qb + 2 * kb;
  float Rt = median(tr), Li = median(tl), F = median(tf), Bw = median(tb), R = Rt + Li;
  printf("BENCH N=%d batch=%d H=16 D=%d B=128 k=8 | router %.3f ms (top-k %.3f, lists %.3f) | fwd %.3f ms (%.0f TFLOP/s) | "
         "fwd split: plan %.3f past %.3f own %.3f ms | route+fwd %.3f ms | bwd %.3f ms (%.0f TFLOP/s) | total %.3f ms | slices %zu fwd, %zu bwd | "
         "workspace %.3f GiB transient (%.1f%% of QKV) + %.3f GiB saved (%.1f%%) | arena %.3f GiB | "
         "peak %.2f GiB | flops router %.4g fwd %.4g bwd %.4g | bytes router %.4g fwd %.4g bwd %.4g\n",
         seqlen, batch, dim, R, Rt, Li, F, ff / F / 1e9, median(sp[0]), median(sp[1]), median(sp[2]), R + F, Bw, fb / Bw / 1e9, R + F + Bw,
         m.fslices.size(), m.bslices.size(), m.transient_bytes() / 1073741824.0,
         100.0 * m.transient_bytes() / qkv, m.saved_bytes() / 1073741824.0, 100.0 * m.saved_bytes() / qkv,
         m.arena.n / 1073741824.0, (free0 - free1) / 1073741824.0, fr, ff, fb, br, bf, bb);
  fflush(stdout);
}

int main(int argc, char** argv) {
  if (argc > 2 && !strcmp(argv[1], "--bench")) {  // one line, for profilers and comparisons
    int dim = argc > 3 ? atoi(argv[3]) : 128;
    size_t budget = argc > 4 ? size_t(atoll(argv[4])) << 20 : 0;
    bench(atoi(argv[2]), dim, budget, 3);
    return 0;
  }
  bool small = argc > 1 && !strcmp(argv[1], "--small");
  bool table_only = argc > 1 && !strcmp(argv[1], "--table");
  bool check_only = argc > 1 && !strcmp(argv[1], "--check");
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  printf("device: %s, %d SMs\n", prop.name, prop.multiProcessorCount);
  std::vector<Config> cases = {
      {{300, 1, 517, 64}, 4, 1, 64, 32, 5, "varlen with 1-token doc, GQA 4:1"},
      {{1}, 2, 1, 64, 64, 4, "N=1"},
      {{113}, 2, 2, 128, 16, 3, "N=113, B=16"},
      {{1023}, 1, 1, 64, 64, 8, "N=1023, 1 head"},
      {{1023}, 4, 2, 128, 128, 2, "N=1023 (partial block), GQA 2:1"},
      {{500}, 2, 2, 64, 64, 1, "k=1 (own block only)"},
      {{700}, 2, 2, 128, 128, 8, "k >= blocks (dense causal)"},
      {{1500}, 2, 1, 128, 256, 4, "B=256"},
      {{1300, 777}, 2, 2, 64, 512, 2, "B=512, batch 2"},
      {{400}, 2, 2, 64, 80, 3, "B=80"},
      {{2000}, 1, 1, 64, 16, 64, "k=64, B=16"},
      {{2048}, 2, 2, 128, 128, 8, "paper shape, N=2048"},
      {{4000}, 2, 2, 64, 32, 9, "k=9 (register lists full), B=32"},
  };
  // --small: the varlen GQA case (mma.sync past kernel, B = 32) and the paper shape (the sm_90a
  // past kernel's wgmma body, B = 128).
  if (small) cases = {cases[0], cases[11]};
  if (table_only) cases.clear();
  int failed = 0;
  for (size_t i = 0; i < cases.size(); i++) failed += !check(cases[i], 1000 + i);
  printf("CHECKS: %zu cases, %d failed\n", cases.size(), failed);
  if (small || check_only) return failed ? 1 : 0;
  // The paper's shape from 8K to 512K (fewer repetitions where one step takes long), the same at
  // 64K in one slice (what slicing costs), and the quality shape d = 64.
  for (int n : {8192, 16384, 32768, 65536, 131072, 262144, 524288})
    bench(n, 128, 0, n <= 65536 ? 10 : n <= 131072 ? 5 : 3);
  bench(65536, 128, SIZE_MAX >> 20 << 20, 10);
  for (int n : {8192, 32768}) bench(n, 64, 0, 10);
  return failed ? 1 : 0;
}
