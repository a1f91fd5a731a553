package io.mobaspark.trainer.exchange;

import java.util.concurrent.Future;

/**
 * A rank's side of the {@code driver} exchange: streams its buckets to the {@link DriverAggregator}
 * from the channel's sender thread while this thread reads back the means, so the driver can start
 * on bucket 0 while later buckets are still being encoded and sent.
 */
final class DriverExchange extends NetworkExchange {
  private final PeerChannel driver;
  // Preallocated per bucket: [bucketElements] values and [bucketWireBytes] bytes, each way.
  private final float[] sendValues;
  private final byte[] sendBytes;
  private final float[] receiveValues;
  private final byte[] receiveBytes;

  private DriverExchange(ExchangeSpec spec, int rank, PeerChannel driver) {
    super(spec, rank);
    this.driver = driver;
    this.sendValues = new float[spec.bucketElements()];
    this.sendBytes = new byte[spec.bucketWireBytes()];
    this.receiveValues = new float[spec.bucketElements()];
    this.receiveBytes = new byte[spec.bucketWireBytes()];
  }

  /** Connects and authenticates to the aggregator at {@code spec.driverAddress()}. */
  static DriverExchange connect(ExchangeSpec spec, int rank) {
    String self = "rank " + rank;
    PeerChannel channel = PeerChannel.connect(spec.driverAddress(), self, "driver", spec);
    try {
      Handshake.client(channel, spec, rank, -1);
    } catch (ExchangeException e) {
      channel.close();
      throw e;
    }
    return new DriverExchange(spec, rank, channel);
  }

  @Override
  void exchange(int step, FlatBuffers flat, int buckets) {
    Future<?> sending = driver.onSender(() -> sendBuckets(step, flat, buckets));
    for (int b = 0; b < buckets; b++) {
      int n = flat.bucketLength(b, spec.bucketElements());
      String where = "step " + step + ", bucket " + b + " of " + buckets;
      Frame frame = driver.expect(driver.readHeader(where, false), FrameType.RESULT, -1, step, b,
          0, n * spec.wire().bytes(), where);
      driver.readPayload(frame, receiveBytes, where);
      spec.wire().decode(receiveBytes, n, receiveValues, 0);
      flat.write((long) b * spec.bucketElements(), receiveValues, n);
    }
    driver.await(sending, "step " + step);
  }

  private void sendBuckets(int step, FlatBuffers flat, int buckets) {
    for (int b = 0; b < buckets; b++) {
      int n = flat.bucketLength(b, spec.bucketElements());
      flat.read((long) b * spec.bucketElements(), sendValues, n);
      spec.wire().encode(sendValues, 0, n, sendBytes);
      int flags = b == buckets - 1 ? Frame.FLAG_LAST : 0;
      driver.write(new Frame(FrameType.BUCKET, spec.wire(), flags, rank, step, b, 0,
          n * spec.wire().bytes()), sendBytes, "step " + step + ", bucket " + b + " of " + buckets);
    }
  }

  @Override
  public void close() {
    driver.close();
  }
}
