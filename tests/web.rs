//! The web layer in a real browser (headless Chromium through wasm-bindgen-test): what native
//! tests cannot show — async readback on wasm, the WebGPU fallback, canvas drawing, and that
//! failed loads keep the previous data.
#![cfg(target_arch = "wasm32")]

use cellshift::web::{Engine, draw};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn json(v: JsValue) -> Value {
    serde_wasm_bindgen::from_value(v).expect("a JSON-compatible value")
}

fn small_config(e: &Engine, epochs: usize) -> JsValue {
    let mut cfg = json(e.default_config().unwrap());
    cfg["train"]["epochs"] = epochs.into();
    cfg["genes"] = 60.into();
    cfg["hidden"] = 32.into();
    cfg.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap()
}

use serde::Serialize;

#[wasm_bindgen_test]
async fn trains_and_scores_on_the_cpu_backend_with_async_readback() {
    let e = Engine::new();
    let summary = json(e.load_sample(7).unwrap());
    assert_eq!(summary["cells"], 2850);
    let info = json(e.init_backend("cpu".into()).await.unwrap());
    assert_eq!(info["backend"], "cpu");
    e.start(small_config(&e, 2)).unwrap();
    let first = json(e.step().await.unwrap());
    assert_eq!(first["epoch"], 1);
    assert!(first["train"]["loss"].as_f64().unwrap().is_finite());
    assert!(!e.is_done());
    json(e.step().await.unwrap());
    assert!(e.is_done());
    let r = json(e.evaluate().await.unwrap());
    assert!(r["scores"]["cvae"]["pooled"]["mean_shift_r"].is_number());
    assert!(r["scores"]["control_mean"]["pooled"]["mean_shift_r"].is_null());
    assert_eq!(r["train"]["history"].as_array().unwrap().len(), 2);
    // Resume: more epochs after the budget was spent.
    e.extend(1).unwrap();
    assert!(!e.is_done());
    assert_eq!(json(e.step().await.unwrap())["epoch"], 3);
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
        assert!(info["notice"].as_str().unwrap().contains("WebGPU"));
    }
}

#[wasm_bindgen_test]
fn a_failed_load_keeps_the_previous_data() {
    let e = Engine::new();
    let good = b"condition,g1,g2\ncontrol,1,2\ncontrol,3,1\nA,4,0\nA,5,1\n";
    let s = json(e.load_csv(good, "good.csv".into(), JsValue::UNDEFINED).unwrap());
    assert_eq!(s["cells"], 4);
    let err = e.load_csv(b"condition,g1,g2\ncontrol,1,2\nA,1,abc\n", "bad.csv".into(), JsValue::UNDEFINED).err().unwrap();
    let msg = JsValue::from(err).dyn_into::<js_sys::Error>().unwrap().message().as_string().unwrap();
    assert!(msg.contains("line 3") && msg.contains("abc"), "{msg}");
    // Starting a run proves the good data is still current.
    let cfg = small_config(&e, 1);
    let mut v = json(cfg);
    v["genes"] = 2.into();
    v["holdout"] = serde_json::json!({"kind": "fraction", "fraction": 0.5});
    let started = json(e.start(v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap()).unwrap());
    assert_eq!(started["genes"], 2);
}

#[wasm_bindgen_test]
async fn charts_draw_onto_a_canvas() {
    let e = Engine::new();
    e.load_sample(7).unwrap();
    e.init_backend("cpu".into()).await.unwrap();
    e.start(small_config(&e, 1)).unwrap();
    e.step().await.unwrap();
    let results = e.evaluate().await.unwrap();
    let doc = web_sys::window().unwrap().document().unwrap();
    let canvas: web_sys::HtmlCanvasElement = doc.create_element("canvas").unwrap().dyn_into().unwrap();
    canvas.set_width(600);
    canvas.set_height(400);
    doc.body().unwrap().append_child(&canvas).unwrap();
    draw(canvas.clone(), results, "pca", 1.0).unwrap();
    let ctx: web_sys::CanvasRenderingContext2d = canvas.get_context("2d").unwrap().unwrap().dyn_into().unwrap();
    let px = ctx.get_image_data(0.0, 0.0, 600.0, 400.0).unwrap().data().0;
    let non_white = px.chunks(4).filter(|p| p[0] < 240 || p[1] < 240 || p[2] < 240).count();
    assert!(non_white > 600 * 400 / 50, "only {non_white} painted pixels");
}
