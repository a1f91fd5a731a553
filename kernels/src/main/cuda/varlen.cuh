// Packed varlen batches (SeqLayout, docs/moba.md): sequence s covers tokens [cu_seqlens[s], cu_seqlens[s+1]).
#pragma once

// The sequence that holds `token`: the largest s with cu[s] <= token, by binary search over
// cu[0 .. sequences]. cu[0] = 0 and cu is strictly increasing (SeqLayout checks both).
__device__ __forceinline__ int sequence_of(const int* __restrict__ cu, int sequences, long token) {
  int lo = 0;
  int hi = sequences - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) >> 1;
    if (cu[mid] <= token) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}
