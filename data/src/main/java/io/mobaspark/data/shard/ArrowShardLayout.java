package io.mobaspark.data.shard;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.flatbuf.Block;
import org.apache.arrow.flatbuf.Buffer;
import org.apache.arrow.flatbuf.FieldNode;
import org.apache.arrow.flatbuf.Footer;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.vector.ipc.message.ArrowFooter;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Where the token values of an Arrow IPC file lie, found from the file's footer and each record
 * batch's metadata without copying any data (Arrow Java has no zero-copy reader of its own).
 *
 * <p>The IPC file format (https://arrow.apache.org/docs/format/Columnar.html#ipc-file-format):
 * {@code "ARROW1" pad2 | schema message | record batch messages | footer | int32 footerLength |
 * "ARROW1"}. A record batch message is {@code [0xFFFFFFFF] int32 length | flatbuffer Message |
 * padding | body}, where the footer's block gives {@code offset}, {@code metadataLength} (prefix,
 * flatbuffer and padding) and {@code bodyLength}; each buffer's offset is relative to the body.
 * A primitive column has two buffers, validity then values.
 *
 * @param dtype the dtype of the schema's {@code tokens} column
 * @param segments the record batches with at least one row, in file order
 */
record ArrowShardLayout(TokenDtype dtype, List<Segment> segments) {
  private static final byte[] MAGIC = "ARROW1".getBytes(StandardCharsets.US_ASCII);
  /** Leading magic plus its 2 padding bytes. */
  private static final int HEAD_BYTES = 8;
  /** int32 footer length plus trailing magic. */
  private static final int TAIL_BYTES = 4 + MAGIC.length;
  private static final int CONTINUATION = 0xFFFFFFFF;
  private static final int VALUES_BUFFER = 1;

  /**
   * One record batch's values.
   *
   * @param firstToken index of its first token in the shard
   * @param tokens its row count
   * @param byteOffset where its first value lies in the file
   */
  record Segment(long firstToken, int tokens, int byteOffset) {}

  long tokens() {
    if (segments.isEmpty()) {
      return 0;
    }
    Segment last = segments.get(segments.size() - 1);
    return last.firstToken() + last.tokens();
  }

  /**
   * Parses the layout of {@code file}, whose whole content is {@code bytes} (little-endian).
   *
   * @throws ShardFormatException naming the file and what is wrong with it
   */
  static ArrowShardLayout parse(Path file, ByteBuffer bytes) throws ShardFormatException {
    ByteBuffer le = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    int size = le.capacity();
    if (size < HEAD_BYTES + TAIL_BYTES) {
      throw new ShardFormatException(file, "only " + size + " bytes: truncated, or not an Arrow"
          + " IPC file");
    }
    if (!hasMagic(le, 0)) {
      throw new ShardFormatException(file, "bad magic: does not start with ARROW1, not an Arrow"
          + " IPC file");
    }
    if (!hasMagic(le, size - MAGIC.length)) {
      throw new ShardFormatException(file, "bad magic: does not end with ARROW1, truncated or not"
          + " an Arrow IPC file");
    }
    int footerLength = le.getInt(size - TAIL_BYTES);
    int footerStart = size - TAIL_BYTES - footerLength;
    if (footerLength <= 0 || footerStart < HEAD_BYTES) {
      throw new ShardFormatException(file, "footer length " + footerLength
          + " does not fit a file of " + size + " bytes: truncated or corrupt");
    }
    Footer footer;
    Schema schema;
    int batches;
    int dictionaries;
    try {
      footer = Footer.getRootAsFooter(le.slice(footerStart, footerLength)
          .order(ByteOrder.LITTLE_ENDIAN));
      schema = new ArrowFooter(footer).getSchema();
      batches = footer.recordBatchesLength();
      dictionaries = footer.dictionariesLength();
    } catch (RuntimeException e) {
      // Flatbuffer accessors follow offsets lazily: garbage fails here as an index error.
      throw new ShardFormatException(file, "footer unreadable (" + e + "): corrupt", e);
    }
    TokenDtype dtype = tokenColumnDtype(file, schema);
    if (dictionaries != 0) {
      throw new ShardFormatException(file, "has dictionary batches; a shard has none");
    }
    List<Segment> segments = new ArrayList<>();
    long firstToken = 0;
    Block block = new Block();
    for (int b = 0; b < batches; b++) {
      Segment s;
      try {
        footer.recordBatches(block, b);
        s = segment(file, le, footerStart, dtype, block, b, firstToken);
      } catch (RuntimeException e) {
        throw new ShardFormatException(file, "record batch " + b + ": metadata unreadable (" + e
            + "): corrupt", e);
      }
      if (s.tokens() > 0) {
        segments.add(s);
      }
      firstToken += s.tokens();
    }
    return new ArrowShardLayout(dtype, List.copyOf(segments));
  }

  private static boolean hasMagic(ByteBuffer le, int at) {
    for (int i = 0; i < MAGIC.length; i++) {
      if (le.get(at + i) != MAGIC[i]) {
        return false;
      }
    }
    return true;
  }

  /** The dtype of the one column, after checking it is the non-nullable {@code tokens}. */
  private static TokenDtype tokenColumnDtype(Path file, Schema schema)
      throws ShardFormatException {
    List<Field> fields = schema.getFields();
    if (fields.size() != 1 || !ShardWriter.COLUMN.equals(fields.get(0).getName())) {
      throw new ShardFormatException(file, "schema " + schema + " is not the one column '"
          + ShardWriter.COLUMN + "'");
    }
    Field tokens = fields.get(0);
    TokenDtype dtype = TokenDtype.fromArrowType(tokens.getType());
    if (dtype == null || tokens.isNullable() || !tokens.getChildren().isEmpty()) {
      throw new ShardFormatException(file, "column " + tokens + " is not a non-nullable "
          + TokenDtype.UINT16.arrowType() + " or " + TokenDtype.INT32.arrowType());
    }
    return dtype;
  }

  private static Segment segment(Path file, ByteBuffer le, int footerStart, TokenDtype dtype,
      Block block, int index, long firstToken) throws ShardFormatException {
    String where = "record batch " + index;
    long offset = block.offset();
    long metadataLength = block.metaDataLength();
    long bodyStart = offset + metadataLength;
    if (offset < HEAD_BYTES || metadataLength < 8 || block.bodyLength() < 0
        || bodyStart + block.bodyLength() > footerStart) {
      throw new ShardFormatException(file, where + " (offset " + offset + ", metadata "
          + metadataLength + ", body " + block.bodyLength() + ") lies outside the data section: "
          + "corrupt");
    }
    RecordBatch batch = recordBatch(file, le, (int) offset, (int) metadataLength, where);
    if (batch.compression() != null) {
      throw new ShardFormatException(file, where + " is compressed; shards are uncompressed so"
          + " that they can be memory-mapped");
    }
    long rows = batch.length();
    FieldNode node = batch.nodesLength() == 1 ? batch.nodes(0) : null;
    if (node == null || node.length() != rows || node.nullCount() != 0
        || batch.buffersLength() != 2 || rows < 0 || rows > Integer.MAX_VALUE) {
      throw new ShardFormatException(file, where + " is not one non-null primitive column: "
          + batch.nodesLength() + " nodes, " + batch.buffersLength() + " buffers, " + rows
          + " rows");
    }
    Buffer values = batch.buffers(VALUES_BUFFER);
    long valueBytes = rows * dtype.bytesPerToken();
    if (values.offset() < 0 || values.length() < valueBytes
        || values.offset() + valueBytes > block.bodyLength()) {
      throw new ShardFormatException(file, where + ": values buffer (offset " + values.offset()
          + ", length " + values.length() + ") cannot hold " + rows + " " + dtype
          + " tokens within a body of " + block.bodyLength() + " bytes");
    }
    return new Segment(firstToken, (int) rows, (int) (bodyStart + values.offset()));
  }

  private static RecordBatch recordBatch(Path file, ByteBuffer le, int offset, int metadataLength,
      String where) throws ShardFormatException {
    // Since Arrow 0.15 a message starts with a continuation marker; older files lack it.
    boolean continued = le.getInt(offset) == CONTINUATION;
    int flatbufferStart = offset + (continued ? 8 : 4);
    int flatbufferLength = le.getInt(offset + (continued ? 4 : 0));
    if (flatbufferLength <= 0 || flatbufferStart + flatbufferLength > offset + metadataLength) {
      throw new ShardFormatException(file, where + ": message length " + flatbufferLength
          + " does not fit its metadata of " + metadataLength + " bytes: corrupt");
    }
    Message message = Message.getRootAsMessage(le.slice(flatbufferStart, flatbufferLength)
        .order(ByteOrder.LITTLE_ENDIAN));
    if (message.headerType() != MessageHeader.RecordBatch) {
      throw new ShardFormatException(file, where + " holds message type " + message.headerType()
          + ", not a RecordBatch (" + MessageHeader.RecordBatch + ")");
    }
    return (RecordBatch) message.header(new RecordBatch());
  }
}
