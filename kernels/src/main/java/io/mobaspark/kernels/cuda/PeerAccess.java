package io.mobaspark.kernels.cuda;

import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * Direct reads of one GPU's memory by another of the same process (NVLink or PCIe peer-to-peer):
 * what lets a rank's kernel sum over the arenas of ranks on other devices (docs/exchange.md, "Ranks
 * of one host"). With unified addressing a peer's device pointer is valid in every context of the
 * process; the reads fault unless the reading context has enabled access to the peer's.
 */
public final class PeerAccess {
  private PeerAccess() {}

  /** Whether device {@code from} can read device {@code to}'s memory; true for one device. */
  public static boolean possible(int from, int to) {
    if (from == to) {
      return true;
    }
    int[] can = new int[1];
    Cuda.check(JCudaDriver.cuDeviceCanAccessPeer(can, CudaDevice.get(from).handle(),
        CudaDevice.get(to).handle()), "cuDeviceCanAccessPeer(" + from + ", " + to + ")");
    return can[0] != 0;
  }

  /**
   * Lets {@code reader}'s context read {@code owner}'s device memory; nothing for one device. Both
   * are primary contexts, shared by every rank of their device, so another rank may have enabled
   * it already: that is no error.
   *
   * @throws CudaException naming both devices when they cannot reach each other
   */
  static void enable(CudaContext reader, CudaContext owner) {
    int from = reader.device().ordinal();
    int to = owner.device().ordinal();
    if (from == to) {
      return;
    }
    if (!possible(from, to)) {
      throw new CudaException(reader.device() + " cannot read the memory of " + owner.device()
          + " (cuDeviceCanAccessPeer is 0: no NVLink or PCIe peer path between them)",
          CUresult.CUDA_ERROR_PEER_ACCESS_UNSUPPORTED);
    }
    reader.bind();
    int result = JCudaDriver.cuCtxEnablePeerAccess(owner.handle(), 0);
    if (result != CUresult.CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED) {
      Cuda.check(result, "cuCtxEnablePeerAccess(" + reader.device() + " reads "
          + owner.device() + ")");
    }
  }
}
