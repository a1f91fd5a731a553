package io.mobaspark.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The build compiled every .cu into the three images, and the loader picks the right one. */
class ModuleImagesTest {
  private static byte[] resource(String file) throws IOException {
    try (InputStream in = ModuleImagesTest.class.getClassLoader()
        .getResourceAsStream(ModuleImages.RESOURCE_DIR + file)) {
      assertNotNull(in, file + " is missing from the classpath: the nvcc step did not run");
      return in.readAllBytes();
    }
  }

  @Test
  void everyCudaSourceHasPtxAndBothCubins() throws IOException {
    List<String> names;
    try (Stream<Path> files = Files.list(Path.of("src/main/cuda"))) {
      names = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".cu"))
          .map(n -> n.substring(0, n.length() - 3)).sorted().toList();
    }
    assertTrue(names.containsAll(ModuleImages.OWN_MODULES), "sources: " + names);
    byte[] elf = {0x7f, 'E', 'L', 'F'};
    for (String name : names) {
      String ptx = new String(resource(name + ".compute_80.ptx"), StandardCharsets.US_ASCII);
      assertTrue(ptx.contains(".target sm_80"), name + " PTX targets compute_80");
      for (String arch : List.of("sm_80", "sm_90a")) {
        byte[] cubin = resource(name + "." + arch + ".cubin");
        assertArrayEquals(elf, java.util.Arrays.copyOf(cubin, 4), name + "." + arch + " is an ELF cubin");
      }
    }
  }

  @Test
  void ownKernelsAreExportedUnmangled() throws IOException {
    String kconv = new String(resource("kconv.compute_80.ptx"), StandardCharsets.US_ASCII);
    for (int width = 1; width <= KeyConvCuda.MAX_WIDTH; width++) {
      for (String kernel : List.of("kconv_forward_w" + width, "kconv_backward_tokens_w" + width)) {
        assertTrue(kconv.contains(".entry " + kernel + "("), kernel);
      }
    }
    assertTrue(kconv.contains(".entry kconv_backward_weight("));
    String centroids = new String(resource("centroids.compute_80.ptx"), StandardCharsets.US_ASCII);
    assertTrue(centroids.contains(".entry block_centroids("));
    String memory = new String(resource("memory.compute_80.ptx"), StandardCharsets.US_ASCII);
    for (String kernel : List.of("convert_f32_bf16", "add_bf16_f32", "scale_bf16", "sum_squares_f32",
        "sum_partials", "find_non_finite_bf16")) {
      assertTrue(memory.contains(".entry " + kernel + "("), kernel);
    }
  }

  @Test
  void candidatesPreferTheDevicesOwnSass() {
    assertEquals(List.of("kconv.sm_90a.cubin", "kconv.compute_80.ptx"),
        ModuleImages.candidates("kconv", 9, 0));
    assertEquals(List.of("kconv.sm_80.cubin", "kconv.compute_80.ptx"),
        ModuleImages.candidates("kconv", 8, 6));
    assertEquals(List.of("kconv.compute_80.ptx"), ModuleImages.candidates("kconv", 12, 0),
        "Blackwell: JIT from PTX");
    assertEquals(List.of("kconv.compute_80.ptx"), ModuleImages.candidates("kconv", 9, 1),
        "sm_90a SASS runs on 9.0 only");
  }

  @Test
  void loadAppendsTheNulThatPtxNeeds() {
    ModuleImages.Image image = ModuleImages.load("kconv", 12, 0);
    assertEquals("kconv.compute_80.ptx", image.file());
    assertEquals(0, image.bytes()[image.bytes().length - 1]);
  }
}
