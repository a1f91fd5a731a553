package io.mobaspark.data.shard;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link Manifest} to and from JSON. Read field by field from the tree, not by data binding, so
 * that an error can name the exact field ({@code shards[3].sha256}) that is missing or wrong.
 */
final class ManifestJson {
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(SerializationFeature.INDENT_OUTPUT);

  private ManifestJson() {}

  static Manifest read(Path file) throws IOException {
    if (file == null) {
      throw new IllegalArgumentException("manifest file is null");
    }
    if (!Files.exists(file)) {
      throw new NoSuchFileException(file.toString(), null, "manifest is missing");
    }
    JsonNode root;
    try {
      root = JSON.readTree(file.toFile());
    } catch (JsonProcessingException e) {
      throw new ManifestException(file, "not valid JSON: " + e.getOriginalMessage(), e);
    }
    Fields f = new Fields(file);
    if (root == null || !root.isObject()) {
      throw f.error("the top level must be a JSON object");
    }
    // Checked before any other field: another version may name its fields differently.
    int version = f.integer(root, "formatVersion");
    if (version != Manifest.FORMAT_VERSION) {
      throw f.error("formatVersion " + version + " is not supported; this reader knows version "
          + Manifest.FORMAT_VERSION);
    }
    JsonNode shardsNode = f.require(root, "shards");
    if (!shardsNode.isArray()) {
      throw f.error("field 'shards' must be an array, got " + shardsNode.getNodeType());
    }
    List<ShardInfo> shards = new ArrayList<>();
    for (int i = 0; i < shardsNode.size(); i++) {
      shards.add(f.shard(shardsNode.get(i), "shards[" + i + "]"));
    }
    try {
      return new Manifest(version, f.text(root, "tokenizer"), f.integer(root, "vocabSize"),
          f.integer(root, "eotId"), f.dtype(root, "dtype"), shards,
          f.integerLong(root, "totalTokens", ""), f.integerLong(root, "totalDocuments", ""));
    } catch (IllegalArgumentException e) {
      throw f.error(e.getMessage(), e);
    }
  }

  static void write(Manifest m, Path file) throws IOException {
    if (file == null) {
      throw new IllegalArgumentException("manifest file is null");
    }
    ObjectNode root = JSON.createObjectNode();
    root.put("formatVersion", m.formatVersion());
    root.put("tokenizer", m.tokenizer());
    root.put("vocabSize", m.vocabSize());
    root.put("eotId", m.eotId());
    root.put("dtype", m.dtype().manifestName());
    root.put("totalTokens", m.totalTokens());
    root.put("totalDocuments", m.totalDocuments());
    ArrayNode shards = root.putArray("shards");
    for (ShardInfo s : m.shards()) {
      ObjectNode o = shards.addObject();
      o.put("file", s.file());
      o.put("tokens", s.tokens());
      o.put("documents", s.documents());
      o.put("bytes", s.bytes());
      o.put("sha256", s.sha256());
    }
    byte[] bytes = (JSON.writeValueAsString(root) + "\n").getBytes(StandardCharsets.UTF_8);
    Path temp = AtomicFiles.createTemp(file);
    try {
      try (FileChannel out = FileChannel.open(temp, StandardOpenOption.WRITE)) {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
          out.write(buffer);
        }
        out.force(true);
      }
      AtomicFiles.commit(temp, file);
    } finally {
      Files.deleteIfExists(temp);
    }
  }

  /** Typed field access whose errors name the manifest and the field's path. */
  private static final class Fields {
    private final Path file;

    Fields(Path file) {
      this.file = file;
    }

    ManifestException error(String problem) {
      return new ManifestException(file, problem, null);
    }

    ManifestException error(String problem, Throwable cause) {
      return new ManifestException(file, problem, cause);
    }

    JsonNode require(JsonNode parent, String name) throws ManifestException {
      return require(parent, name, "");
    }

    JsonNode require(JsonNode parent, String name, String prefix) throws ManifestException {
      JsonNode node = parent.get(name);
      if (node == null || node.isNull()) {
        throw error("missing field '" + prefix + name + "'");
      }
      return node;
    }

    String text(JsonNode parent, String name) throws ManifestException {
      return text(parent, name, "");
    }

    String text(JsonNode parent, String name, String prefix) throws ManifestException {
      JsonNode node = require(parent, name, prefix);
      if (!node.isTextual()) {
        throw error("field '" + prefix + name + "' must be a string, got " + node);
      }
      return node.asText();
    }

    int integer(JsonNode parent, String name) throws ManifestException {
      JsonNode node = require(parent, name);
      if (!node.isIntegralNumber() || !node.canConvertToInt()) {
        throw error("field '" + name + "' must be a 32-bit integer, got " + node);
      }
      return node.intValue();
    }

    long integerLong(JsonNode parent, String name, String prefix) throws ManifestException {
      JsonNode node = require(parent, name, prefix);
      if (!node.isIntegralNumber() || !node.canConvertToLong()) {
        throw error("field '" + prefix + name + "' must be an integer, got " + node);
      }
      return node.longValue();
    }

    TokenDtype dtype(JsonNode parent, String name) throws ManifestException {
      String value = text(parent, name);
      try {
        return TokenDtype.fromManifestName(value);
      } catch (IllegalArgumentException e) {
        throw error("field '" + name + "': " + e.getMessage(), e);
      }
    }

    ShardInfo shard(JsonNode node, String path) throws ManifestException {
      if (node == null || !node.isObject()) {
        throw error("'" + path + "' must be an object, got " + node);
      }
      String prefix = path + ".";
      try {
        return new ShardInfo(text(node, "file", prefix), integerLong(node, "tokens", prefix),
            integerLong(node, "documents", prefix), integerLong(node, "bytes", prefix),
            text(node, "sha256", prefix));
      } catch (IllegalArgumentException e) {
        throw error("'" + path + "': " + e.getMessage(), e);
      }
    }
  }
}
