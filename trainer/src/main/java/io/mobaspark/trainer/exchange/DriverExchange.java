package io.mobaspark.trainer.exchange;

import java.util.concurrent.Future;

/**
 * A rank's side of the {@code driver} exchange: streams its buckets to the {@link DriverAggregator}
 * from the channel's sender thread, encoded straight from the caller's buffers, while this thread
 * reads back the means straight into them, so the driver can start on bucket 0 while later buckets
 * are still being encoded and sent. No race: bucket {@code b}'s mean arrives only after the driver
 * has read all of bucket {@code b} from this rank.
 */
final class DriverExchange extends NetworkExchange {
  private final PeerChannel driver;

  private DriverExchange(ExchangeSpec spec, int rank, PeerChannel driver) {
    super(spec, rank);
    this.driver = driver;
  }

  /**
   * Connects and authenticates to the aggregator at {@code spec.driverAddress()}, through its local
   * socket when this rank's {@code host} is the driver's.
   */
  static DriverExchange connect(ExchangeSpec spec, int rank, String host) {
    String self = "rank " + rank;
    PeerChannel channel = PeerChannel.connect(PeerAddress.parse("driverAddress",
        spec.driverAddress()), host, self, "driver", spec);
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
    WireDType wire = spec.wire();
    Future<?> sending = driver.onSender(() -> sendBuckets(step, flat, buckets));
    for (int b = 0; b < buckets; b++) {
      int n = flat.bucketLength(b, spec.bucketElements());
      long start = (long) b * spec.bucketElements();
      String where = "step " + step + ", bucket " + b + " of " + buckets;
      Frame frame = driver.expect(driver.readHeader(where, false), FrameType.RESULT, -1, step, b,
          0, n * wire.bytes(), where);
      driver.readPayload(frame, (src, at, first, run) -> flat.forEachPiece(start + first, run,
          (buffer, offset, c, done) -> wire.decode(src, at + done * wire.bytes(), c, buffer,
              offset)), where);
    }
    driver.await(sending, "step " + step);
  }

  private void sendBuckets(int step, FlatBuffers flat, int buckets) {
    WireDType wire = spec.wire();
    for (int b = 0; b < buckets; b++) {
      int n = flat.bucketLength(b, spec.bucketElements());
      long start = (long) b * spec.bucketElements();
      int flags = b == buckets - 1 ? Frame.FLAG_LAST : 0;
      driver.write(new Frame(FrameType.BUCKET, wire, flags, rank, step, b, 0, n * wire.bytes()),
          (dst, at, first, run) -> flat.forEachPiece(start + first, run,
              (buffer, offset, c, done) -> wire.encode(buffer, offset, c, dst,
                  at + done * wire.bytes())),
          "step " + step + ", bucket " + b + " of " + buckets);
    }
  }

  @Override
  public void close() {
    driver.close();
  }
}
