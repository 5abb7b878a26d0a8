//! The cache on a real 3-master Redis Cluster started on loopback ports: reads split per
//! slot, writes grouped by slot, the newer-wins rule, and the opt-in hash-tagged keys.

use pairwarm::cache::{
    HierarchicalCache, L2Store, Price, RedisL2, RedisL2Config, RedisTarget, RedisTopology,
};
use pairwarm::pair::PairId;
use pairwarm_testkit::RedisCluster;

fn target(cluster: &RedisCluster) -> RedisTarget {
    let addresses = cluster.addresses();
    RedisTarget {
        url: cluster.url().into(),
        // The first node is the URL; the others are further seeds.
        topology: RedisTopology::Cluster {
            seeds: addresses[1..].to_vec(),
        },
        ..RedisTarget::default()
    }
}

fn cache_on(cluster: &RedisCluster, tagged: bool) -> HierarchicalCache<RedisL2> {
    let l2 = RedisL2::connect_lazy(&RedisL2Config::new(target(cluster))).unwrap();
    assert!(l2.is_cluster());
    HierarchicalCache::builder()
        .l1_entries(4096)
        .chain_hash_tag(tagged)
        .build(l2)
}

fn addr(n: u32) -> String {
    format!("0x{:040x}", 0xabc0_0000_u64 + u64::from(n))
}

fn intern(cache: &HierarchicalCache<RedisL2>, chain: &str, n: u32) -> PairId {
    cache.interner().intern_str(chain, &addr(n)).unwrap()
}

/// 1,000 prices written through one cache are read back, equal, by another (one `get`,
/// then `get_many`), from keys spread over all three masters.
#[tokio::test]
async fn write_through_and_reads_span_every_master() {
    let cluster = RedisCluster::start();
    let writer = cache_on(&cluster, false);
    let items: Vec<(PairId, Price)> = (0..1000)
        .map(|n| {
            let chain = if n % 2 == 0 { "ethereum" } else { "bsc" };
            let price = Price::new(
                1.0 + f64::from(n) / 7.0,
                100 + u64::from(n),
                1_700_000_000_000,
            );
            (intern(&writer, chain, n), price)
        })
        .collect();
    // One batch larger than a script call (256 keys): grouped by slot, all written.
    assert_eq!(writer.set_many(&items).await.unwrap(), 0);
    let per_node = cluster.keys_per_node("cache:l2:price:*");
    assert_eq!(per_node.iter().sum::<usize>(), 1000, "{per_node:?}");
    assert!(
        per_node.iter().all(|&n| n > 200),
        "keys on every master: {per_node:?}"
    );

    let reader = cache_on(&cluster, false);
    let ids: Vec<PairId> = (0..1000)
        .map(|n| intern(&reader, if n % 2 == 0 { "ethereum" } else { "bsc" }, n))
        .collect();
    assert_eq!(reader.get(ids[3]).await.unwrap(), Some(items[3].1));
    let got = reader.get_many(&ids).await.unwrap();
    for (lookup, (_, want)) in got.into_iter().zip(&items) {
        assert_eq!(lookup.unwrap(), Some(*want));
    }
    // The key shape is the original's, readable by any cluster client.
    let raw: String = redis::cmd("GET")
        .arg(format!("cache:l2:price:ethereum:{}", addr(0)))
        .query(&mut cluster.connection())
        .unwrap();
    assert_eq!(
        raw,
        r#"{"price":1.0,"reserve0":"0","reserve1":"0","timestamp":1700000000000,"blockNumber":100}"#
    );
    // A key absent from L2 reads as absent, among present ones.
    let absent = intern(&reader, "ethereum", 5000);
    let got = reader.get_many(&[ids[0], absent, ids[1]]).await.unwrap();
    let blocks: Vec<Option<u64>> = got
        .into_iter()
        .map(|l| l.unwrap().map(|p| p.block))
        .collect();
    assert_eq!(blocks, [Some(100), None, Some(101)]);
    assert!(reader.l2().unwrap().ping().await.is_ok());
}

/// Newer wins on a cluster as on one server: in a batch whose keys span slots, older
/// updates are refused per key and newer ones written.
#[tokio::test]
async fn an_older_update_never_overwrites_a_newer_value_on_a_cluster() {
    let cluster = RedisCluster::start();
    let cache = cache_on(&cluster, false);
    let ids: Vec<PairId> = (0..60).map(|n| intern(&cache, "ethereum", n)).collect();
    let first: Vec<(PairId, Price)> = ids
        .iter()
        .map(|&id| (id, Price::new(10.0, 1_000, 5_000)))
        .collect();
    assert_eq!(cache.set_many(&first).await.unwrap(), 0);
    // Even ids: an older block (refused); odd ids: a newer block (written).
    let second: Vec<(PairId, Price)> = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            let block = if i % 2 == 0 { 999 } else { 1_001 };
            (id, Price::new(20.0, block, 4_000))
        })
        .collect();
    assert_eq!(cache.set_many(&second).await.unwrap(), 30);
    // Same block, earlier timestamp: refused everywhere.
    let third: Vec<(PairId, Price)> = ids
        .iter()
        .map(|&id| (id, Price::new(30.0, 1_000, 4_999)))
        .collect();
    let refused_third = cache.set_many(&third).await.unwrap();
    assert_eq!(refused_third, 60);
    let mut conn = cluster.connection();
    for (i, &id) in ids.iter().enumerate() {
        let raw: String = redis::cmd("GET")
            .arg(cache.l2_key(id).unwrap())
            .query(&mut conn)
            .unwrap();
        let want = if i % 2 == 0 {
            r#"{"price":10.0,"#
        } else {
            r#"{"price":20.0,"#
        };
        assert!(raw.starts_with(want), "{i}: {raw}");
    }
    let per_node = cluster.keys_per_node("cache:l2:price:*");
    assert!(per_node.iter().all(|&n| n > 0), "{per_node:?}");
}

/// With hash tags a chain's keys share one slot, so they live on one node and a batch of
/// 300 is two script calls (256 + 44) instead of one per key.
#[tokio::test]
async fn hash_tagged_keys_keep_a_chain_on_one_node() {
    let cluster = RedisCluster::start();
    let cache = cache_on(&cluster, true);
    let items: Vec<(PairId, Price)> = (0..300)
        .map(|n| (intern(&cache, "arbitrum", n), Price::new(2.0, 7, 7)))
        .collect();
    assert_eq!(cache.set_many(&items).await.unwrap(), 0);
    assert_eq!(
        cache.l2_key(items[0].0).unwrap(),
        format!("cache:l2:price:{{arbitrum}}:{}", addr(0))
    );
    let per_node = cluster.keys_per_node("cache:l2:price:*");
    let mut sorted = per_node.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [0, 0, 300], "{per_node:?}");
    let node = per_node.iter().position(|&n| n == 300).unwrap();
    let calls = evalsha_calls(&cluster, node);
    let reader = cache_on(&cluster, true);
    let ids: Vec<PairId> = (0..300).map(|n| intern(&reader, "arbitrum", n)).collect();
    for lookup in reader.get_many(&ids).await.unwrap() {
        assert_eq!(lookup.unwrap(), Some(Price::new(2.0, 7, 7)));
    }
    let again: Vec<(PairId, Price)> = items
        .iter()
        .map(|&(id, _)| (id, Price::new(3.0, 8, 8)))
        .collect();
    cache.set_many(&again).await.unwrap();
    assert_eq!(evalsha_calls(&cluster, node) - calls, 2);
}

fn evalsha_calls(cluster: &RedisCluster, node: usize) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut cluster.node_connection(node))
        .unwrap();
    pairwarm_testkit::parse_command_calls(&info, "evalsha")
}

/// A slot moved to another master after the cache read the slot map (a resharding): the
/// next write finds the map stale, reads it again and writes every key where it now lives.
#[tokio::test]
async fn a_write_after_a_slot_moved_lands_on_the_new_owner() {
    let cluster = RedisCluster::start();
    let cache = cache_on(&cluster, false);
    let ids: Vec<PairId> = (0..200).map(|n| intern(&cache, "ethereum", n)).collect();
    let first: Vec<(PairId, Price)> = ids.iter().map(|&id| (id, Price::new(1.0, 1, 1))).collect();
    assert_eq!(cache.set_many(&first).await.unwrap(), 0);
    let key = cache.l2_key(ids[0]).unwrap();
    let slot = cluster.slot_of(&key);
    let to = (cluster.owner_of(slot) + 1) % pairwarm_testkit::CLUSTER_MASTERS;
    cluster.move_slot(slot, to);
    let second: Vec<(PairId, Price)> = ids.iter().map(|&id| (id, Price::new(2.0, 2, 2))).collect();
    let before = cache.l2().unwrap().round_trips();
    assert_eq!(cache.set_many(&second).await.unwrap(), 0);
    // The stale write (refused: a key not on the node the call ran on), `CLUSTER SLOTS`,
    // the write again.
    assert_eq!(cache.l2().unwrap().round_trips(), before + 3);
    let mut conn = cluster.connection();
    for &id in &ids {
        let raw: String = redis::cmd("GET")
            .arg(cache.l2_key(id).unwrap())
            .query(&mut conn)
            .unwrap();
        assert!(raw.starts_with(r#"{"price":2.0,"#), "{raw}");
    }
    // The moved key is on its new node.
    let held: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query(&mut cluster.node_connection(to))
        .unwrap();
    assert!(held.is_some_and(|v| v.contains(r#""blockNumber":2"#)));
}
