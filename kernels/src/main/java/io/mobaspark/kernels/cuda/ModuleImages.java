package io.mobaspark.kernels.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The compiled kernel files that the build ({@code kernels/src/main/cuda/build.sh}) puts in the jar
 * under {@value #RESOURCE_DIR}, and which one a device loads: SASS built for its architecture when
 * there is one (no JIT at start, and sm_90a's Hopper-only instructions), else the compute_80 PTX,
 * which the driver compiles for any newer GPU.
 */
public final class ModuleImages {
  /** Resource folder of the kernel images, relative to the classpath root. */
  public static final String RESOURCE_DIR = "io/mobaspark/kernels/cuda/";

  /** System property: load the PTX even where SASS exists (tests the JIT path that newer GPUs take). */
  public static final String FORCE_PTX = "mobaspark.cuda.forcePtx";

  /** The kernel files this package's launchers use (each {@code NAME.cu} in src/main/cuda). */
  public static final List<String> OWN_MODULES = List.of("memory", "kconv", "centroids");

  private ModuleImages() {}

  /**
   * Image file names for module {@code name} on compute capability {@code major.minor}, best first.
   * sm_90a runs on 9.0 only; sm_80 SASS runs on every 8.x; the PTX runs on anything from 8.0 on.
   */
  public static List<String> candidates(String name, int major, int minor) {
    List<String> files = new ArrayList<>();
    if (major == 9 && minor == 0) {
      files.add(name + ".sm_90a.cubin");
    } else if (major == 8) {
      files.add(name + ".sm_80.cubin");
    }
    files.add(name + ".compute_80.ptx");
    return files;
  }

  /** The bytes of the first candidate present in the jar; PTX gets the NUL the driver expects. */
  static Image load(String name, int major, int minor) {
    if (major < 8) {
      throw new IllegalStateException("CUDA module " + name + " needs compute capability 8.0 or newer"
          + " (Ampere); this device is " + major + "." + minor);
    }
    List<String> files = Boolean.getBoolean(FORCE_PTX)
        ? List.of(name + ".compute_80.ptx")
        : candidates(name, major, minor);
    for (String file : files) {
      try (InputStream in = ModuleImages.class.getClassLoader().getResourceAsStream(RESOURCE_DIR + file)) {
        if (in == null) {
          continue;
        }
        byte[] bytes = in.readAllBytes();
        if (file.endsWith(".ptx")) {
          byte[] terminated = new byte[bytes.length + 1];
          System.arraycopy(bytes, 0, terminated, 0, bytes.length);
          bytes = terminated;
        }
        return new Image(file, bytes);
      } catch (IOException e) {
        throw new UncheckedIOException("reading " + RESOURCE_DIR + file, e);
      }
    }
    throw new IllegalStateException("no compiled image of CUDA module " + name + " on the classpath ("
        + RESOURCE_DIR + candidates(name, major, minor) + "); was the kernels jar built with nvcc?");
  }

  /** One loadable image: its file name (for messages) and contents. */
  record Image(String file, byte[] bytes) {}
}
