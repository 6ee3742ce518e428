//! A run's nodes must not outlive it: madsim keeps tasks that are still
//! pending when a runtime is dropped, so a sweep of thousands of seeds in
//! one process grew by megabytes per seed until `World::teardown` killed
//! every node at the end of each scenario.
#![cfg(madsim)]

use madsim::runtime::{Handle, Runtime};
use nsq_sim_tests::world::{Setup, World};
use std::time::Duration;

#[test]
fn teardown_leaves_no_task_of_any_node() {
    let rt = Runtime::with_seed_and_config(1, madsim::Config::default());
    let (busy, left) = rt.block_on(async {
        let w = World::build(Setup::default());
        w.start_consumers();
        w.wait_channels().await.expect("channels appear");
        w.start_producers();
        madsim::time::sleep(Duration::from_secs(3)).await;
        w.stop_producers().await;
        let busy = tasks_on(&w);
        w.teardown().await;
        (busy, tasks_on(&w))
    });
    assert!(busy > 0, "the world was running ({busy} tasks)");
    assert_eq!(left, 0, "tasks left after teardown");
}

/// Live tasks on the world's nodes (not the main node running the test).
fn tasks_on(w: &World) -> usize {
    let by_node = Handle::current().metrics().num_tasks_by_node();
    w.node_ids()
        .iter()
        .map(|(_, name)| by_node.get(name).copied().unwrap_or(0))
        .sum()
}
