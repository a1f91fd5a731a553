package io.mobaspark.trainer.exchange;

import io.mobaspark.trainer.ProcessTempFolders;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The memory the ranks of the {@code shared} kind meet in: one file that rank 0 creates, every rank
 * maps, and rank 0 deletes as soon as all have mapped it (a mapping outlives the file's name), so
 * that nothing is left behind whichever rank is killed later. The file lies in a fresh owner-only
 * folder named after rank 0's process ({@link ProcessTempFolders}), in {@code /dev/shm} where that
 * memory file system has room (else {@code java.io.tmpdir}); if rank 0 is killed before the
 * delete, the next shared exchange on that machine sweeps the folder.
 *
 * <pre>
 * line 0 (64 bytes)       magic, world size, slot elements, abort word ({@link ArenaBarrier})
 * line 1 + r (64 bytes)   rank r's barrier count (long), step (int at 8), flat size (long at 16)
 * from 4096 on            rank r's two slots of slotElements floats, r = 0..N-1
 * </pre>
 * A GPU world keeps its data in device memory and uses the header alone (slot elements 0).
 */
final class SharedArena {
  private static final System.Logger LOG = System.getLogger(SharedArena.class.getName());
  private static final int MAGIC = 0x4153424D;
  private static final int LINE = 64;
  private static final int DATA_START = 4096;
  private static final VarHandle INTS =
      MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
  private static final VarHandle LONGS =
      MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  private final Path file;
  private final int worldSize;
  private final int slotElements;
  private final MappedByteBuffer header;
  /** [rank][slot], native order so that bulk copies are plain memory copies. */
  private final FloatBuffer[][] slots;

  private SharedArena(Path file, int worldSize, int slotElements, FileChannel channel)
      throws IOException {
    this.file = file;
    this.worldSize = worldSize;
    this.slotElements = slotElements;
    this.header = channel.map(FileChannel.MapMode.READ_WRITE, 0, DATA_START);
    header.order(ByteOrder.LITTLE_ENDIAN);
    this.slots = new FloatBuffer[worldSize][2];
    long rankBytes = 2L * slotElements * Float.BYTES;
    for (int r = 0; r < worldSize && slotElements > 0; r++) {
      MappedByteBuffer region = channel.map(FileChannel.MapMode.READ_WRITE,
          DATA_START + r * rankBytes, rankBytes);
      region.order(ByteOrder.nativeOrder());
      FloatBuffer floats = region.asFloatBuffer();
      slots[r][0] = floats.slice(0, slotElements);
      slots[r][1] = floats.slice(slotElements, slotElements);
    }
  }

  /** Rank 0: a fresh arena for {@code worldSize} ranks of two slots of {@code slotElements}. */
  static SharedArena create(int worldSize, int slotElements) {
    if (DATA_START < LINE * (worldSize + 1)) {
      throw new IllegalArgumentException("the shared exchange takes at most "
          + (DATA_START / LINE - 1) + " ranks, got " + worldSize);
    }
    long bytes = DATA_START + 2L * worldSize * slotElements * Float.BYTES;
    Path parent = parent(bytes);
    Path folder = null;
    try {
      ProcessTempFolders.sweepEnded(parent, LocalListener.PREFIX,
          line -> LOG.log(System.Logger.Level.INFO, line));
      folder = ProcessTempFolders.create(parent, LocalListener.PREFIX, "arena-");
      Path file = folder.resolve("arena");
      try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW,
          StandardOpenOption.READ, StandardOpenOption.WRITE)) {
        channel.position(bytes - 1).write(ByteBuffer.allocate(1)); // sized, sparse: zeros
        SharedArena arena = new SharedArena(file, worldSize, slotElements, channel);
        arena.header.putInt(4, worldSize).putInt(8, slotElements);
        INTS.setRelease(arena.header, 0, MAGIC);
        return arena;
      }
    } catch (IOException e) {
      if (folder != null) {
        ProcessTempFolders.delete(folder, line -> LOG.log(System.Logger.Level.WARNING, line));
      }
      throw new ExchangeException("rank 0: cannot create the shared arena of " + bytes
          + " bytes in " + parent + ": " + e, e);
    }
  }

  /** {@code /dev/shm} when it is there with room for {@code bytes}, else the JVM's temp folder. */
  private static Path parent(long bytes) {
    Path shm = Path.of("/dev/shm");
    try {
      if (Files.isDirectory(shm) && Files.isWritable(shm)
          && Files.getFileStore(shm).getUsableSpace() > 2 * bytes) {
        return shm;
      }
    } catch (IOException e) {
      LOG.log(System.Logger.Level.INFO, "no room in /dev/shm (" + e + "), using java.io.tmpdir");
    }
    return Path.of(System.getProperty("java.io.tmpdir"));
  }

  /** The other ranks: maps rank 0's arena, checking that it is one for these terms. */
  static SharedArena map(Path file, int rank, int worldSize, int slotElements) {
    long bytes = DATA_START + 2L * worldSize * slotElements * Float.BYTES;
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      if (channel.size() != bytes) {
        throw new ExchangeException("rank " + rank + ": the shared arena " + file + " holds "
            + channel.size() + " bytes, expected " + bytes);
      }
      SharedArena arena = new SharedArena(file, worldSize, slotElements, channel);
      if ((int) INTS.getAcquire(arena.header, 0) != MAGIC || arena.header.getInt(4) != worldSize
          || arena.header.getInt(8) != slotElements) {
        throw new ExchangeException("rank " + rank + ": " + file + " is not a shared arena for "
            + worldSize + " ranks of " + slotElements + " elements");
      }
      return arena;
    } catch (IOException e) {
      throw new ExchangeException("rank " + rank + ": cannot map the shared arena " + file
          + " (is it on this host, in a folder this process sees?): " + e, e);
    }
  }

  Path file() {
    return file;
  }

  /** Rank 0, once every rank has mapped the arena: removes the file and its folder. */
  void deleteFile() {
    ProcessTempFolders.delete(file.getParent(),
        line -> LOG.log(System.Logger.Level.WARNING, line));
  }

  int worldSize() {
    return worldSize;
  }

  int slotElements() {
    return slotElements;
  }

  /** Rank {@code r}'s slot {@code slot} (0 or 1), a view with its own position. */
  FloatBuffer slot(int r, int slot) {
    return slots[r][slot].duplicate();
  }

  /** How many barriers rank {@code r} has arrived at. */
  long count(int r) {
    return (long) LONGS.getAcquire(header, LINE * (r + 1));
  }

  /** Rank {@code r} arrives at barrier {@code count}, publishing what it wrote before. */
  void arrive(int r, long count) {
    LONGS.setRelease(header, LINE * (r + 1), count);
  }

  /** Rank {@code r}'s step and flat size, for the others to check after the next barrier. */
  void announce(int r, int step, long size) {
    header.putInt(LINE * (r + 1) + 8, step);
    header.putLong(LINE * (r + 1) + 16, size);
  }

  int step(int r) {
    return header.getInt(LINE * (r + 1) + 8);
  }

  long size(int r) {
    return header.getLong(LINE * (r + 1) + 16);
  }

  /** Records the first failure ({@code word} != 0); false when another rank recorded one first. */
  boolean abort(int word) {
    return INTS.compareAndSet(header, 12, 0, word);
  }

  /** 0, or the first failure recorded. */
  int abortWord() {
    return (int) INTS.getAcquire(header, 12);
  }
}
