package io.mobaspark.jobs.pretrain;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.resource.ResourceProfile;
import org.apache.spark.resource.ResourceProfileBuilder;
import org.apache.spark.resource.TaskResourceRequests;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

/**
 * Runs one function on {@code n} gang-scheduled tasks (a Spark barrier stage): all start together or
 * none does, and a failed task fails, and retries, the whole stage. Where the cluster schedules GPUs,
 * each task asks for one through a stage-level resource profile.
 *
 * <p>Spark never retries a barrier <em>result</em> stage (the DAGScheduler aborts the job: "Could
 * not recover from a failed barrier ResultStage"); it retries a barrier <em>shuffle-map</em> stage up
 * to {@code spark.stage.maxConsecutiveAttempts} times. So the results leave the barrier stage through
 * a shuffle into one partition, which makes it a map stage; the results are a few small records.
 */
public final class BarrierStage {
  private BarrierStage() {}

  /** The work of one task. */
  @FunctionalInterface
  public interface RankBody<T> extends Serializable {
    T run(RankContext rank) throws Exception;
  }

  /** Runs {@code body} on {@code tasks} tasks; returns their results in rank order. */
  public static <T> List<T> run(JavaSparkContext jsc, int tasks, RankBody<T> body) {
    if (tasks < 1) {
      throw new IllegalArgumentException("a barrier stage needs >= 1 task, got " + tasks);
    }
    JavaRDD<Integer> ranks = jsc.parallelize(IntStream.range(0, tasks).boxed().toList(), tasks);
    if (schedulesGpus(jsc.getConf())) {
      ranks = ranks.withResources(onePerTask(jsc.getConf()));
    }
    @SuppressWarnings("unchecked")
    ClassTag<Ranked<T>> tag =
        (ClassTag<Ranked<T>>) (ClassTag<?>) ClassTag$.MODULE$.apply(Ranked.class);
    List<Ranked<T>> collected = ranks.rdd().barrier()
        .mapPartitions(new Task<>(body), false, tag)
        .toJavaRDD()
        .coalesce(1, true)
        .collect();
    List<T> results = new ArrayList<>(Collections.nCopies(tasks, null));
    for (Ranked<T> r : collected) {
      results.set(r.rank(), r.value());
    }
    return results;
  }

  /** One task's result and its rank, which the shuffle does not keep in order. */
  record Ranked<T>(int rank, T value) implements Serializable {}

  /**
   * GPUs are scheduled when executors offer them; never in {@code local[N]} mode, where a task that
   * asks for a GPU would wait forever.
   */
  static boolean schedulesGpus(SparkConf conf) {
    return !conf.get("spark.master", "local").startsWith("local[")
        && !conf.get("spark.master", "local").equals("local")
        && conf.contains("spark.executor.resource.gpu.amount");
  }

  private static ResourceProfile onePerTask(SparkConf conf) {
    TaskResourceRequests requests = new TaskResourceRequests()
        .cpus(conf.getInt("spark.task.cpus", 1))
        .resource("gpu", 1.0);
    return new ResourceProfileBuilder().require(requests).build();
  }

  /** Scala's function type for mapPartitions, wrapping the Java body. */
  private static final class Task<T>
      extends AbstractFunction1<Iterator<Integer>, Iterator<Ranked<T>>> implements Serializable {
    private final RankBody<T> body;

    Task(RankBody<T> body) {
      this.body = body;
    }

    @Override
    public Iterator<Ranked<T>> apply(Iterator<Integer> partition) {
      RankContext rank = new RankContext(BarrierTaskContext.get());
      try {
        Ranked<T> result = new Ranked<>(rank.rank(), body.run(rank));
        return CollectionConverters.asScala(List.of(result).iterator());
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new IllegalStateException("rank " + rank.rank() + " failed: " + e, e);
      }
    }
  }
}
