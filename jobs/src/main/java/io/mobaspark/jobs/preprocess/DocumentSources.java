package io.mobaspark.jobs.preprocess;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.explode;
import static org.apache.spark.sql.functions.input_file_name;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.util.LongAccumulator;

/**
 * The job's inputs as one DataFrame of documents {@code (source STRING, text STRING)}: text files
 * decoded as strict UTF-8, JSON Lines and Parquet read by their text field; every document in
 * Unicode NFC with LF line ends, split at paragraph breaks into chunks of about
 * {@code chunkChars}. These are Java functions (on a RAPIDS cluster they run on the CPU); the
 * cleaning, filters and dedup that follow are SQL expressions that run on the GPU.
 */
final class DocumentSources {
  private DocumentSources() {}

  /**
   * @param chunksRead gets the number of documents each read task makes (an accumulator: a failed
   *     task attempt's count is dropped, the retry's kept; a stage re-run after a lost executor
   *     counts again)
   */
  static Dataset<Row> read(SparkSession spark, PreprocessOptions options,
      LongAccumulator chunksRead) throws IOException {
    int chunkChars = options.chunkChars();
    UserDefinedFunction chunks = functions.udf((UDF1<String, List<String>>) text -> {
      List<String> documents = text == null ? List.of()
          : TextDocuments.chunk(TextDocuments.unifyForm(text), chunkChars);
      chunksRead.add(documents.size());
      return documents;
    }, DataTypes.createArrayType(DataTypes.StringType));
    Dataset<Row> all = null;
    for (String input : options.inputs()) {
      InputFormat format = options.format() != null ? options.format() : InputFormat.guess(input);
      Dataset<Row> one = readOne(spark, input, format, options.textField());
      Dataset<Row> documents = one.select(col("source"),
          explode(chunks.apply(col("text"))).as("text"));
      all = all == null ? documents : all.unionByName(documents);
    }
    return all;
  }

  /** One input as {@code (source, text)}, before chunking. */
  private static Dataset<Row> readOne(SparkSession spark, String input, InputFormat format,
      String textField) throws IOException {
    org.apache.hadoop.fs.Path path = new org.apache.hadoop.fs.Path(input);
    FileSystem fs = path.getFileSystem(spark.sparkContext().hadoopConfiguration());
    if (!fs.exists(path)) {
      throw new IllegalArgumentException("--input " + input + " does not exist");
    }
    boolean folder = fs.getFileStatus(path).isDirectory();
    switch (format) {
      case TEXT: {
        var reader = spark.read().format("binaryFile");
        if (folder) {
          reader = reader.option("recursiveFileLookup", "true").option("pathGlobFilter", "*.txt");
        }
        UserDefinedFunction decode = functions.udf(
            (UDF2<byte[], String, String>) TextDocuments::decodeUtf8, DataTypes.StringType);
        return reader.load(input).select(col("path").as("source"),
            decode.apply(col("content"), col("path")).as("text"));
      }
      case JSONL:
        return withTextField(spark.read().json(input), input, textField);
      case PARQUET:
        return withTextField(spark.read().parquet(input), input, textField);
      default:
        throw new IllegalStateException("unknown input format " + format);
    }
  }

  private static Dataset<Row> withTextField(Dataset<Row> df, String input, String field) {
    StructField found = Arrays.stream(df.schema().fields())
        .filter(f -> f.name().equals(field)).findFirst().orElse(null);
    if (found == null) {
      throw new IllegalArgumentException("--text-field '" + field + "' is not in " + input
          + "; its fields are " + Arrays.toString(df.schema().fieldNames()));
    }
    if (!(found.dataType() instanceof StringType)) {
      throw new IllegalArgumentException("--text-field '" + field + "' of " + input + " is "
          + found.dataType().simpleString() + ", not a string");
    }
    Column text = col("`" + field.replace("`", "``") + "`");
    return df.select(input_file_name().as("source"), text.as("text"));
  }
}
