//! The web layer in a real browser (headless Chromium through wasm-bindgen-test): what native
//! tests cannot show — async readback on wasm, the WebGPU fallback, canvas drawing, and that
//! failed loads keep the previous data.
#![cfg(target_arch = "wasm32")]

use cellshift::web::{Comparison, Engine, LiveCurves, combine_seeds, draw};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Hands the page back to the browser for a moment. Engine calls with async readback finish
/// without ever returning to the event loop on the CPU backend, so a run of tests would
/// otherwise hold the main thread for their whole duration, and ChromeDriver abandons a page
/// that does not answer for 30 s.
async fn yield_to_browser() {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback(&resolve)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(p).await.unwrap();
}

fn json(v: JsValue) -> Value {
    serde_wasm_bindgen::from_value(v).expect("a JSON-compatible value")
}

/// The schema's defaults, as the page builds its form from them.
fn defaults() -> Value {
    let schema = json(cellshift::web::settings_schema().unwrap());
    let mut out = serde_json::Map::new();
    for s in schema.as_array().unwrap() {
        out.insert(s["key"].as_str().unwrap().to_string(), s["default"].clone());
    }
    Value::Object(out)
}

fn small_config(epochs: usize) -> JsValue {
    let mut cfg = defaults();
    cfg["epochs"] = epochs.into();
    cfg["genes"] = 60.into();
    cfg["hidden"] = 32.into();
    // Scoring runs on the test page's main thread, and the driver gives up on a page blocked
    // for 30 s: score two held-out combinations (not a fraction of all 19 conditions), with a
    // small IWELBO K and few ATE samples.
    cfg["holdout_conditions"] = serde_json::json!(["A+B", "C+D"]);
    cfg["iwelbo_particles"] = 10.into();
    cfg["ate_samples"] = 50.into();
    cfg.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap()
}

use serde::Serialize;

/// An engine on the CPU with the sample (seed 7) loaded and a run of `settings` started.
async fn sample_run(settings: JsValue) -> Engine {
    let e = Engine::new();
    e.load_sample(7).unwrap();
    e.init_backend("cpu".into()).await.unwrap();
    e.start(settings, None).unwrap();
    e
}

#[wasm_bindgen_test]
async fn trains_and_scores_on_the_cpu_backend_with_async_readback() {
    let e = Engine::new();
    let summary = json(e.load_sample(7).unwrap());
    assert_eq!(summary["cells"], 3140);
    let info = json(e.init_backend("cpu".into()).await.unwrap());
    assert_eq!(info["backend"], "cpu");
    e.start(small_config(2), None).unwrap();
    let first = json(e.step().await.unwrap());
    yield_to_browser().await;
    // Each step reports where the run stands: the page keeps no run state of its own.
    assert_eq!(first["epoch"], 1);
    assert_eq!(first["record"]["epoch"], 1);
    assert_eq!(
        (first["budget"].as_u64(), first["done"].as_bool()),
        (Some(2), Some(false))
    );
    assert!(first["seconds"].as_f64().unwrap() > 0.0);
    assert!(
        first["record"]["train"]["loss"]
            .as_f64()
            .unwrap()
            .is_finite()
    );
    assert!(!e.is_done());
    let second = json(e.step().await.unwrap());
    yield_to_browser().await;
    assert_eq!(second["done"], true);
    assert!(second["seconds"].as_f64() > first["seconds"].as_f64());
    assert!(e.is_done());
    let r = json(e.evaluate(None).await.unwrap());
    yield_to_browser().await;
    assert!(r["scores"]["cvae"]["pooled"]["mean_shift_r"].is_number());
    assert!(r["scores"]["control_mean"]["pooled"]["mean_shift_r"].is_null());
    assert_eq!(r["train"]["history"].as_array().unwrap().len(), 2);
    // Resume: more epochs after the budget was spent.
    assert_eq!(json(e.extend(1).unwrap())["budget"], 3);
    assert!(!e.is_done());
    assert_eq!(json(e.step().await.unwrap())["epoch"], 3);
    yield_to_browser().await;
}

/// The page's scoring helper: a second engine with the same data and run, restored from the
/// first's checkpoint, draws the ATE the first then takes instead of drawing it: the results
/// are the same as scoring alone. A helper that fails or answers nonsense changes nothing, and
/// what it answers is what the scoreboard shows.
#[wasm_bindgen_test]
async fn an_ate_drawn_by_a_second_engine_gives_the_same_results() {
    let a = sample_run(small_config(1)).await;
    a.step().await.unwrap();
    yield_to_browser().await;
    let alone = json(a.evaluate(None).await.unwrap());
    yield_to_browser().await;
    assert!(alone["scores"]["cvae"]["ate"]["r"].is_number());

    let b = sample_run(small_config(1)).await;
    let checkpoint = a.checkpoint().await.unwrap().to_vec();
    b.restore(&checkpoint, 0.0).unwrap();
    let ate = b.ate().await.unwrap();
    yield_to_browser().await;
    assert_eq!(json(ate.clone())["ate"], alone["scores"]["cvae"]["ate"]);

    let with = |p: js_sys::Promise| {
        let a = &a;
        async move {
            let r = json(a.evaluate(Some(p)).await.unwrap());
            yield_to_browser().await;
            r
        }
    };
    assert_eq!(with(js_sys::Promise::resolve(&ate)).await, alone);
    let failed = js_sys::Promise::reject(&JsValue::from_str("the helper is gone"));
    assert_eq!(with(failed).await, alone);
    assert_eq!(with(js_sys::Promise::resolve(&JsValue::NULL)).await, alone);
    // Taken as given: a made-up ATE shows, so the helper's answer is really what is used.
    let mut made_up = json(ate);
    made_up["ate"]["r"] = 0.125.into();
    let made_up = made_up
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap();
    let shown = with(js_sys::Promise::resolve(&made_up)).await;
    assert_eq!(shown["scores"]["cvae"]["ate"]["r"], 0.125);
}

/// Two seeds of one run: each is started by its index, and their results combine into means
/// with intervals; a seed the settings do not have is refused.
#[wasm_bindgen_test]
async fn seeds_start_by_index_and_combine() {
    let e = Engine::new();
    e.load_sample(7).unwrap();
    e.init_backend("cpu".into()).await.unwrap();
    let mut cfg: Value = serde_wasm_bindgen::from_value(small_config(1)).unwrap();
    cfg["seeds"] = 2.into();
    let settings = || {
        cfg.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .unwrap()
    };
    let runs = js_sys::Array::new();
    for k in 0..2 {
        let started = json(e.start(settings(), Some(k)).unwrap());
        assert_eq!(
            (started["replicate"].as_u64(), started["seeds"].as_u64()),
            (Some(k as u64), Some(2))
        );
        e.step().await.unwrap();
        runs.push(&e.evaluate(None).await.unwrap());
        yield_to_browser().await;
    }
    let combined = json(combine_seeds(runs.into()).unwrap());
    let seeds = &combined["scores"]["cvae"]["seeds"];
    assert_eq!(seeds["runs"].as_array().unwrap().len(), 2);
    let r = &seeds["intervals"]["mean_shift_r"];
    assert_eq!(
        combined["scores"]["cvae"]["pooled"]["mean_shift_r"],
        r["mean"]
    );
    assert!(r["low"].as_f64() <= r["high"].as_f64());
    let (msg, _) = error_parts(e.start(settings(), Some(2)).unwrap_err());
    assert!(msg.contains("seed 2 of a run with 2"), "{msg}");
}

#[wasm_bindgen_test]
async fn asking_for_webgpu_without_an_adapter_falls_back_with_a_notice() {
    let e = Engine::new();
    let info = json(e.init_backend("auto".into()).await.unwrap());
    if info["backend"] == "webgpu" {
        // This browser does expose an adapter: it must be described.
        assert!(info["adapter"]["name"].is_string());
    } else {
        assert_eq!(info["backend"], "cpu");
        // A sentence for people; the graphics stack's own words go behind a disclosure.
        let notice = info["notice"].as_str().unwrap();
        assert!(
            notice.contains("no WebGPU graphics adapter") && notice.contains("CPU"),
            "{notice}"
        );
        let detail = info["detail"]
            .as_str()
            .expect("the technical reason is kept");
        assert!(!detail.is_empty() && !notice.contains(detail), "{detail}");
    }
}

#[wasm_bindgen_test]
fn a_failed_load_keeps_the_previous_data() {
    let e = Engine::new();
    let good = b"condition,g1,g2\ncontrol,1,2\ncontrol,3,1\nA,4,0\nA,5,1\n";
    let s = json(
        e.load_csv(good, "good.csv".into(), JsValue::UNDEFINED)
            .unwrap(),
    );
    assert_eq!(s["cells"], 4);
    let err = e
        .load_csv(
            b"condition,g1,g2\ncontrol,1,2\nA,1,abc\n",
            "bad.csv".into(),
            JsValue::UNDEFINED,
        )
        .err()
        .unwrap();
    let msg = err
        .dyn_into::<js_sys::Error>()
        .unwrap()
        .message()
        .as_string()
        .unwrap();
    assert!(msg.contains("line 3") && msg.contains("abc"), "{msg}");
    // Starting a run proves the good data is still current.
    let mut v = json(small_config(1));
    v["genes"] = 2.into();
    v["holdout_conditions"] = serde_json::json!([]);
    v["holdout_fraction"] = 0.5.into();
    let started = json(
        e.start(
            v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
                .unwrap(),
            None,
        )
        .unwrap(),
    );
    assert_eq!(started["genes"], 2);
}

#[wasm_bindgen_test]
async fn charts_draw_onto_a_canvas() {
    let e = sample_run(small_config(1)).await;
    e.step().await.unwrap();
    yield_to_browser().await;
    let results = e.evaluate(None).await.unwrap();
    yield_to_browser().await;
    let doc = web_sys::window().unwrap().document().unwrap();
    let canvas: web_sys::HtmlCanvasElement =
        doc.create_element("canvas").unwrap().dyn_into().unwrap();
    canvas.set_width(600);
    canvas.set_height(400);
    doc.body().unwrap().append_child(&canvas).unwrap();
    draw(canvas.clone(), results, "pca", 1.0).unwrap();
    let ctx: web_sys::CanvasRenderingContext2d = canvas
        .get_context("2d")
        .unwrap()
        .unwrap()
        .dyn_into()
        .unwrap();
    let px = ctx.get_image_data(0.0, 0.0, 600.0, 400.0).unwrap().data().0;
    let non_white = px
        .chunks(4)
        .filter(|p| p[0] < 240 || p[1] < 240 || p[2] < 240)
        .count();
    assert!(
        non_white > 600 * 400 / 50,
        "only {non_white} painted pixels"
    );
}

fn to_value(v: &Value) -> JsValue {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap()
}

fn error_parts(e: JsValue) -> (String, Option<String>) {
    let field = js_sys::Reflect::get(&e, &"field".into())
        .ok()
        .and_then(|f| f.as_string());
    let msg = e
        .dyn_into::<js_sys::Error>()
        .unwrap()
        .message()
        .as_string()
        .unwrap();
    (msg, field)
}

fn painted(canvas: &web_sys::HtmlCanvasElement) -> usize {
    let (w, h) = (canvas.width() as f64, canvas.height() as f64);
    let ctx: web_sys::CanvasRenderingContext2d = canvas
        .get_context("2d")
        .unwrap()
        .unwrap()
        .dyn_into()
        .unwrap();
    let px = ctx.get_image_data(0.0, 0.0, w, h).unwrap().data().0;
    // A canvas nothing was drawn on is transparent: count only opaque, non-white pixels.
    px.chunks(4)
        .filter(|p| p[3] > 0 && (p[0] < 240 || p[1] < 240 || p[2] < 240))
        .count()
}

fn canvas(w: u32, h: u32) -> web_sys::HtmlCanvasElement {
    let doc = web_sys::window().unwrap().document().unwrap();
    let c: web_sys::HtmlCanvasElement = doc.create_element("canvas").unwrap().dyn_into().unwrap();
    c.set_width(w);
    c.set_height(h);
    doc.body().unwrap().append_child(&c).unwrap();
    c
}

#[wasm_bindgen_test]
async fn sams_masks_are_drawn_beside_the_sample_truth_and_runs_merge_into_one_csv() {
    let mut cfg = json(small_config(1));
    cfg["model"] = "sams".into();
    cfg["particles"] = 1.into();
    cfg["iwelbo_particles"] = 5.into();
    cfg["ate_samples"] = 20.into();
    let e = sample_run(to_value(&cfg)).await;
    e.step().await.unwrap();
    yield_to_browser().await;
    let sams = e.evaluate(None).await.unwrap();
    yield_to_browser().await;
    let r = json(sams.clone());
    let masks = &r["figures"]["masks"];
    assert_eq!(masks["model"], "sams");
    let perts: Vec<&str> = masks["perturbations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let sc = cellshift::sample::SampleConfig::default();
    let singles: Vec<String> = (0..sc.singles)
        .map(|i| char::from(b'A' + i as u8).to_string())
        .collect();
    assert_eq!(
        perts, singles,
        "one row per single perturbation, in name order"
    );
    // The sample's truth is attached: one row per perturbation, one column per true latent dim.
    let truth = masks["truth"]
        .as_array()
        .expect("the sample's truth is attached");
    assert_eq!(truth.len(), sc.singles);
    assert_eq!(truth[0].as_array().unwrap().len(), sc.latent);
    assert!(masks["overlap_spearman"].is_number() || masks["overlap_spearman"].is_null());

    let c = canvas(800, 400);
    draw(c.clone(), sams.clone(), "masks", 1.0).unwrap();
    let ink = painted(&c);
    assert!(ink > 800 * 400 / 20, "only {ink} painted pixels");

    // Without masks the panel is refused with the reason, and the canvas is left alone.
    let mut cvae_like = r.clone();
    cvae_like["figures"]["masks"] = Value::Null;
    cvae_like["config"]["model"] = "cvae".into();
    let blank = canvas(300, 200);
    let (msg, _) =
        error_parts(draw(blank.clone(), to_value(&cvae_like), "masks", 1.0).unwrap_err());
    assert!(msg.contains("cvae learns no latent masks"), "{msg}");
    let untouched = {
        let ctx: web_sys::CanvasRenderingContext2d = blank
            .get_context("2d")
            .unwrap()
            .unwrap()
            .dyn_into()
            .unwrap();
        ctx.get_image_data(0.0, 0.0, 300.0, 200.0)
            .unwrap()
            .data()
            .0
            .chunks(4)
            .all(|p| p[3] == 0)
    };
    assert!(untouched, "a refused panel must not paint over the canvas");

    // One run's compared CSV is exactly its own.
    let single = cellshift::web::scores_csv(sams.clone()).unwrap();
    let mut compared = Comparison::new();
    compared.add(sams.clone()).unwrap();
    assert_eq!(
        compared.scores_csv().unwrap(),
        single,
        "one run: exactly its own CSV"
    );
    // A second model on the same split (the same run relabelled, with a marked score): both
    // models' rows, each with its own numbers, and the baselines once.
    let mut other = r.clone();
    let mut scores = other["scores"]["sams"].clone();
    scores["pooled"]["mean_shift_r"] = 0.123.into();
    other["scores"].as_object_mut().unwrap().remove("sams");
    other["scores"]["cvae"] = scores;
    other["config"]["model"] = "cvae".into();
    let added = json(compared.add(to_value(&other)).unwrap());
    assert_eq!(added["replaced"], false);
    assert_eq!(
        compared.models(),
        vec!["sams".to_string(), "cvae".to_string()]
    );
    let csv = compared.scores_csv().unwrap();
    let rows = |name: &str| {
        csv.lines()
            .filter(|l| l.starts_with(&format!("{name},")))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let conditions = r["scores"]["sams"]["conditions"].as_object().unwrap().len();
    assert_eq!(rows("sams").len(), conditions + 1);
    assert_eq!(rows("cvae").len(), conditions + 1);
    assert_eq!(rows("control_mean").len(), conditions + 1);
    assert_eq!(csv.lines().count(), single.lines().count() + conditions + 1);
    assert!(
        rows("cvae")
            .iter()
            .any(|l| l.starts_with("cvae,pooled,0.123,")),
        "{csv}"
    );
    let sams_r = r["scores"]["sams"]["pooled"]["mean_shift_r"]
        .as_f64()
        .unwrap();
    assert!(
        rows("sams")
            .iter()
            .any(|l| l.starts_with(&format!("sams,pooled,{sams_r},"))),
        "{csv}"
    );
    let board = canvas(900, 700);
    compared.draw(board.clone(), 1.0).unwrap();
    assert!(painted(&board) > 900 * 700 / 50);

    // A run on another split starts a new comparison and says what changed.
    let mut moved = other.clone();
    moved["config"]["seed"] = 9.into();
    let added = json(compared.add(to_value(&moved)).unwrap());
    assert_eq!(added["removed"], serde_json::json!(["sams"]));
    assert_eq!(added["changes"], serde_json::json!(["the seed (0 → 9)"]));
    assert_eq!(compared.models(), vec!["cvae".to_string()]);

    // Live loss curves: records pushed as epochs finish, drawn by the scoreboard's renderer.
    let mut live = LiveCurves::new();
    for rec in r["train"]["history"].as_array().unwrap() {
        live.push(to_value(rec)).unwrap();
    }
    assert_eq!(live.len(), 1);
    let curves = canvas(600, 300);
    live.draw(curves.clone(), 1.0).unwrap();
    assert!(painted(&curves) > 600 * 300 / 100);
}

#[wasm_bindgen_test]
fn refused_settings_name_their_field() {
    let e = Engine::new();
    let mut cfg = json(small_config(1));
    cfg["model"] = "sams".into();
    cfg["mask_prior"] = 1.5.into();
    let (msg, field) = error_parts(cellshift::web::check_settings(to_value(&cfg)).unwrap_err());
    assert_eq!(field.as_deref(), Some("mask_prior"));
    assert!(
        msg.contains("above 0 and below 1") && msg.contains("1.5"),
        "{msg}"
    );
    // The cVAE does not use the SAMS settings: they are not held against it.
    cfg["model"] = "cvae".into();
    cellshift::web::check_settings(to_value(&cfg)).unwrap();
    cfg["lr"] = 0.0.into();
    let (_, field) = error_parts(cellshift::web::check_settings(to_value(&cfg)).unwrap_err());
    assert_eq!(field.as_deref(), Some("lr"));
    // An unknown key is refused rather than ignored.
    let mut odd = json(small_config(1));
    odd["learning_rate"] = 0.1.into();
    let (msg, _) = error_parts(cellshift::web::check_settings(to_value(&odd)).unwrap_err());
    assert!(msg.contains("learning_rate"), "{msg}");
    // Data-dependent rules come back from start() with their field too.
    e.load_sample(7).unwrap();
    let mut cfg = json(small_config(1));
    cfg["holdout_conditions"] = serde_json::json!(["Z"]);
    let (msg, field) = error_parts(e.start(to_value(&cfg), None).unwrap_err());
    assert_eq!(field.as_deref(), Some("holdout_conditions"));
    assert!(msg.contains("`Z`"), "{msg}");
}

#[wasm_bindgen_test]
async fn baselines_are_scored_before_anything_is_trained() {
    let e = Engine::new();
    e.load_sample(7).unwrap();
    let r = json(e.preview(small_config(1)).await.unwrap());
    yield_to_browser().await;
    // Two unseen combinations are held out: the perturbed mean and the additive baseline can
    // predict them, the perturbation mean (never seen) says why it cannot.
    assert!(r["scores"]["perturbed_mean"]["pooled"]["mean_shift_r"].is_number());
    assert!(r["scores"]["additive"]["pooled"]["mean_shift_r"].is_number());
    assert!(r["scores"]["perturbation_mean"]["pooled"]["undefined"].is_string());
    assert!(
        r["scores"].get("cvae").is_none(),
        "no model row before training"
    );
    // No run was started by it.
    assert!(e.is_done());
    assert!(e.progress().is_err());
}

/// The page's CPU backend computes exp and ln with its own branch-free kernels (burn-flex as
/// carried in vendor/): within 1 ulp of the correctly rounded value over the whole range, with
/// the edge cases a loss can reach (overflow to infinity, zero, negative, NaN).
#[wasm_bindgen_test]
async fn flex_exp_and_ln_are_within_one_ulp_in_the_browser() {
    use burn::tensor::{Device, Tensor, TensorData};
    use cellshift::tensor::read_vec;
    let device = Device::flex();
    let ulps = |a: f32, b: f32| (a.to_bits() as i64 - b.to_bits() as i64).abs();
    let xs: Vec<f32> = (0..40_000).map(|i| -87.0 + i as f32 * 0.004_4).collect();
    let t = Tensor::<1>::from_data(TensorData::new(xs.clone(), [xs.len()]), &device);
    let got = read_vec(t.exp()).await.unwrap();
    for (x, g) in xs.iter().zip(&got) {
        let want = (*x as f64).exp() as f32;
        assert!(ulps(*g, want) <= 1, "exp({x}) = {g}, want {want}");
    }
    let ys: Vec<f32> = (0..40_000).map(|i| 1e-30 * 1.002_3f32.powi(i)).collect();
    let t = Tensor::<1>::from_data(TensorData::new(ys.clone(), [ys.len()]), &device);
    let got = read_vec(t.log()).await.unwrap();
    for (y, g) in ys.iter().zip(&got) {
        let want = (*y as f64).ln() as f32;
        assert!(ulps(*g, want) <= 1, "ln({y}) = {g}, want {want}");
    }
    let edges = vec![100.0f32, f32::NEG_INFINITY, f32::NAN, 0.0, -1.0];
    let t = Tensor::<1>::from_data(TensorData::new(edges.clone(), [edges.len()]), &device);
    let e = read_vec(t.clone().exp()).await.unwrap();
    assert_eq!(e[0], f32::INFINITY);
    assert_eq!(e[1], 0.0);
    assert!(e[2].is_nan());
    assert_eq!(e[3], 1.0);
    let l = read_vec(t.log()).await.unwrap();
    assert!(l[2].is_nan() && l[4].is_nan());
    assert_eq!(l[3], f32::NEG_INFINITY);
}
