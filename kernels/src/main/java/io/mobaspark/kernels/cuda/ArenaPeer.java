package io.mobaspark.kernels.cuda;

/**
 * How a rank reaches another rank's {@link DeviceArena}: it is the rank's own, a thread of this
 * process made it (found by its id, read directly, over peer access when on another device), or
 * another process exported it by CUDA IPC.
 */
public sealed interface ArenaPeer {
  /** This rank's own arena. */
  record Own() implements ArenaPeer {}

  /** An arena of this process, by {@link DeviceArena#id()}. */
  record InProcess(long id) implements ArenaPeer {}

  /** An arena of another process, by its 64-byte {@link DeviceArena#ipcHandle()}. */
  record Ipc(byte[] handle) implements ArenaPeer {}
}
