package io.mobaspark.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.data.shard.ShardFormatException;
import java.nio.file.NoSuchFileException;
import org.junit.jupiter.api.Test;

class UserErrorsTest {

  @Test
  void badInputTypesAreUserErrorsAndOthersAreNot() {
    assertTrue(UserErrors.is(new IllegalArgumentException("x")));
    assertTrue(UserErrors.is(new NoSuchFileException("shard-0.arrow")));
    assertFalse(UserErrors.is(new IllegalStateException("x")));
    assertFalse(UserErrors.is(null));
    assertTrue(UserErrors.isClassName(ShardFormatException.class.getName()));
    assertTrue(UserErrors.isClassName("io.mobaspark.data.shard.ManifestException"));
    assertFalse(UserErrors.isClassName("java.lang.OutOfMemoryError"));
  }

  @Test
  void findsTheQuotedMessageOfATaskUserErrorInAJobFailureText() {
    String text = "Job aborted due to stage failure: Task 0 failed 1 times, most recent failure: "
        + "Lost task 0.0: java.nio.file.NoSuchFileException: work/data/train/part-00001.arrow\n"
        + "\tat io.mobaspark.data.Dataset.open(Dataset.java:42)";
    assertEquals("work/data/train/part-00001.arrow", UserErrors.quotedMessage(text));
    assertNull(UserErrors.quotedMessage("Lost task 0.0: java.lang.IllegalStateException: boom"));
    assertNull(UserErrors.quotedMessage("java.lang.IllegalArgumentExceptionX: not a match"));
  }
}
