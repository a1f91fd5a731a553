package io.mobaspark.jobs.preprocess;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.explode;
import static org.apache.spark.sql.functions.input_file_name;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.api.java.JavaSparkContext;
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
import org.apache.spark.util.SerializableConfiguration;

/**
 * The job's inputs as one DataFrame of documents {@code (source STRING, text STRING)}: text files
 * decoded as strict UTF-8, JSON Lines and Parquet read by their text field; every document in
 * Unicode NFC with LF line ends, split at paragraph breaks into chunks of about
 * {@code chunkChars}. These are Java functions (on a RAPIDS cluster they run on the CPU). With
 * {@link CleaningPath#SQL} the cleaning, filters and dedup that follow are SQL expressions that run
 * on the GPU; with {@link CleaningPath#JVM} the same function also cleans each chunk and drops
 * those outside the length limits ({@link TextDocuments#cleanDocuments}), so that each document
 * is decoded from and encoded to Spark's UTF-8 strings once.
 */
final class DocumentSources {
  private DocumentSources() {}

  /**
   * @param cleaning {@link CleaningPath#SQL}: the documents as read, empty ones kept;
   *     {@link CleaningPath#JVM}: cleaned and within the length limits
   * @param chunksRead gets the number of documents each read task makes, before any filter (an
   *     accumulator: a failed task attempt's count is dropped, the retry's kept; a stage re-run
   *     after a lost executor counts again)
   */
  static Dataset<Row> read(SparkSession spark, PreprocessOptions options, CleaningPath cleaning,
      LongAccumulator chunksRead) throws IOException {
    if (cleaning != CleaningPath.SQL && cleaning != CleaningPath.JVM) {
      throw new IllegalArgumentException("cleaning must be resolved to sql or jvm, got " + cleaning);
    }
    int chunkChars = options.chunkChars();
    int minChars = options.minChars();
    int maxChars = options.maxChars();
    boolean jvm = cleaning == CleaningPath.JVM;
    DocumentsOf documentsOf = text -> {
      if (jvm) {
        return TextDocuments.cleanDocuments(text, chunkChars, minChars, maxChars, chunksRead::add);
      }
      List<String> documents = text == null ? List.of()
          : TextDocuments.chunk(TextDocuments.unifyForm(text), chunkChars);
      chunksRead.add(documents.size());
      return documents;
    };
    var arrayOfStrings = DataTypes.createArrayType(DataTypes.StringType);
    // Text files: read and decoded in the same function, so the file's bytes are never a Spark
    // binary and its text never a Spark string.
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    WholeFiles files = new WholeFiles(
        jsc.broadcast(new SerializableConfiguration(jsc.hadoopConfiguration())));
    UserDefinedFunction fileDocuments = functions.udf((UDF2<String, Long, List<String>>)
        (file, length) -> documentsOf.apply(
            TextDocuments.decodeUtf8(files.read(file, length), file)),
        arrayOfStrings);
    UserDefinedFunction fieldDocuments = functions.udf(
        (UDF1<String, List<String>>) documentsOf::apply, arrayOfStrings);
    Dataset<Row> all = null;
    for (String input : options.inputs()) {
      InputFormat format = options.format() != null ? options.format() : InputFormat.guess(input);
      Dataset<Row> documents = readOne(spark, input, format, options.textField(), fileDocuments,
          fieldDocuments);
      all = all == null ? documents : all.unionByName(documents);
    }
    return all;
  }

  /** A text's documents: a serializable function, captured by both UDFs. */
  private interface DocumentsOf extends java.io.Serializable {
    List<String> apply(String text);
  }

  /** One input's documents as {@code (source, text)}. */
  private static Dataset<Row> readOne(SparkSession spark, String input, InputFormat format,
      String textField, UserDefinedFunction fileDocuments, UserDefinedFunction fieldDocuments)
      throws IOException {
    org.apache.hadoop.fs.Path path = new org.apache.hadoop.fs.Path(input);
    FileSystem fs = path.getFileSystem(spark.sparkContext().hadoopConfiguration());
    if (!fs.exists(path)) {
      throw new IllegalArgumentException("--input " + input + " does not exist");
    }
    boolean folder = fs.getFileStatus(path).isDirectory();
    Dataset<Row> texts;
    switch (format) {
      case TEXT: {
        var reader = spark.read().format("binaryFile");
        if (folder) {
          reader = reader.option("recursiveFileLookup", "true").option("pathGlobFilter", "*.txt");
        }
        // Only the listing's columns: binaryFile reads a file's content only when it is selected.
        return reader.load(input).select(col("path").as("source"),
            explode(fileDocuments.apply(col("path"), col("length"))).as("text"));
      }
      case JSONL:
        texts = withTextField(spark.read().json(input), input, textField);
        break;
      case PARQUET:
        texts = withTextField(spark.read().parquet(input), input, textField);
        break;
      default:
        throw new IllegalStateException("unknown input format " + format);
    }
    return texts.select(col("source"), explode(fieldDocuments.apply(col("text"))).as("text"));
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
