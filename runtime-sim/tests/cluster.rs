//! The simulator's own parts: the shared disk survives a crash with only
//! its synced bytes, handles keep their own latency, and a crashed nsqd
//! comes back with what it acknowledged.
#![cfg(madsim)]

use nsq_core::wire::command::encode;
use nsq_core::Options;
use nsq_runtime_sim::{wire, Cluster, SimDisk};
use std::time::Duration;

#[test]
fn disk_handles_share_files_but_not_latency() {
    let disk = SimDisk::new(7);
    disk.set_faults(|f| f.latency = (1_000, 1_000));
    let make = disk.factory();
    let (mut a, mut b) = (make(), make());
    a.append("f", b"synced").unwrap();
    a.sync("f").unwrap();
    b.append("f", b" lost").unwrap();
    assert_eq!(a.take_latency(), 2_000);
    assert_eq!(b.take_latency(), 1_000);
    assert_eq!(b.read_all("f").unwrap().unwrap(), b"synced lost");
    disk.power_fail(false);
    assert_eq!(make().read_all("f").unwrap().unwrap(), b"synced");
}

#[madsim::test]
async fn a_crashed_nsqd_keeps_what_it_acknowledged() {
    let mut c = Cluster::new();
    let opts = Options {
        mem_queue_size: 0,
        sync_every: 1,
        ..Options::default()
    };
    let n = c.add_nsqd("nsqd", opts);
    let client = c.add_client("client");
    let addr = n.tcp_addr();
    client
        .spawn(async move {
            let (mut rd, mut wr, _) = wire::connect(addr, b"{}").await.unwrap();
            wr.send(|o| encode::publish(o, "t", b"kept")).await.unwrap();
            assert_eq!(rd.response().await.unwrap(), b"OK");
        })
        .await
        .unwrap();
    let before = n.incarnation();
    n.crash(true);
    n.start();
    while !n.is_up() {
        madsim::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(n.incarnation(), before + 1);
    let depth: u64 = n.probe().unwrap().topics().iter().map(|t| t.depth).sum();
    assert_eq!(depth, 1, "the acknowledged message survived the crash");
}
