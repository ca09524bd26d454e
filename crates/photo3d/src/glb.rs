//! glTF 2.0 binary (`.glb`) export of the layered mesh, viewable in any browser viewer.
//!
//! One file: a 12-byte header, a JSON chunk and a BIN chunk. Each layer becomes a mesh
//! (positions, texture coordinates, `u32` indices) textured with its layer image, stored
//! as PNG inside the BIN chunk. Materials are unlit (`KHR_materials_unlit`), the
//! background layer alpha-masked; a camera node sits at the photo's viewpoint.
//! Coordinates follow glTF: metres-free units where the nearest content is at distance
//! 1, +Y up, the camera looking down −Z. [`inspect`] parses a GLB back and checks its
//! structure (chunk layout, buffer views and accessors within bounds, indices within
//! vertex counts, embedded images decodable).

use serde_json::{Value, json};

use crate::{LayeredScene, Photo3dError};

const MAGIC: u32 = 0x4654_6C67; // "glTF"
const CHUNK_JSON: u32 = 0x4E4F_534A;
const CHUNK_BIN: u32 = 0x004E_4942;
const FLOAT: u32 = 5126;
const UNSIGNED_INT: u32 = 5125;
const ARRAY_BUFFER: u32 = 34962;
const ELEMENT_ARRAY_BUFFER: u32 = 34963;

#[derive(Default)]
struct Builder {
    bin: Vec<u8>,
    views: Vec<Value>,
    accessors: Vec<Value>,
}

impl Builder {
    fn view(&mut self, bytes: &[u8], target: Option<u32>) -> usize {
        while !self.bin.len().is_multiple_of(4) {
            self.bin.push(0);
        }
        let mut v = json!({"buffer": 0, "byteOffset": self.bin.len(), "byteLength": bytes.len()});
        if let Some(t) = target {
            v["target"] = json!(t);
        }
        self.bin.extend_from_slice(bytes);
        self.views.push(v);
        self.views.len() - 1
    }

    fn accessor(
        &mut self,
        view: usize,
        component: u32,
        count: usize,
        kind: &str,
        extra: Value,
    ) -> usize {
        let mut a =
            json!({"bufferView": view, "componentType": component, "count": count, "type": kind});
        if let (Some(a), Some(extra)) = (a.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                a.insert(k.clone(), v.clone());
            }
        }
        self.accessors.push(a);
        self.accessors.len() - 1
    }
}

fn png(image: &image::DynamicImage) -> Result<Vec<u8>, Photo3dError> {
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| Photo3dError::Encode(e.to_string()))?;
    Ok(out.into_inner())
}

/// Writes the scene as a GLB file.
pub fn export_glb(scene: &LayeredScene) -> Result<Vec<u8>, Photo3dError> {
    let mut b = Builder::default();
    let (cx, cy) = (scene.width as f32 / 2.0, scene.height as f32 / 2.0);
    let (gw, gh) = (scene.grid_width() as f32, scene.grid_height() as f32);
    let margin = scene.margin as f32;
    let textures = [
        image::DynamicImage::ImageRgb8(scene.main_texture.clone()),
        image::DynamicImage::ImageRgba8(scene.background_texture.clone()),
    ];
    let mut meshes = Vec::new();
    let mut nodes = Vec::new();
    let mut materials = Vec::new();
    let mut images = Vec::new();
    for (li, layer) in scene.layers.iter().enumerate() {
        if layer.quads.is_empty() {
            continue;
        }
        let mut pos = Vec::with_capacity(layer.vertices.len() * 12);
        let mut uv = Vec::with_capacity(layer.vertices.len() * 8);
        let mut lo = [f32::INFINITY; 3];
        let mut hi = [f32::NEG_INFINITY; 3];
        for v in &layer.vertices {
            let z = 1.0 / v.disparity.max(1e-3);
            let p = [
                (v.x - cx) * z / scene.focal,
                -(v.y - cy) * z / scene.focal,
                -z,
            ];
            for k in 0..3 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
                pos.extend_from_slice(&p[k].to_le_bytes());
            }
            uv.extend_from_slice(&((v.x + margin) / gw).to_le_bytes());
            uv.extend_from_slice(&((v.y + margin) / gh).to_le_bytes());
        }
        let mut idx = Vec::with_capacity(layer.quads.len() * 24);
        for q in &layer.quads {
            let [tl, tr, br, bl] = q.corners;
            // Counter-clockwise seen from the camera (glTF's front faces).
            for i in [tl, br, tr, tl, bl, br] {
                idx.extend_from_slice(&i.to_le_bytes());
            }
        }
        let pv = b.view(&pos, Some(ARRAY_BUFFER));
        let pa = b.accessor(
            pv,
            FLOAT,
            layer.vertices.len(),
            "VEC3",
            json!({"min": lo, "max": hi}),
        );
        let uvv = b.view(&uv, Some(ARRAY_BUFFER));
        let uva = b.accessor(uvv, FLOAT, layer.vertices.len(), "VEC2", json!({}));
        let iv = b.view(&idx, Some(ELEMENT_ARRAY_BUFFER));
        let ia = b.accessor(iv, UNSIGNED_INT, layer.quads.len() * 6, "SCALAR", json!({}));
        let texture = textures.get(li).unwrap_or(&textures[0]);
        let image_view = b.view(&png(texture)?, None);
        images.push(json!({"bufferView": image_view, "mimeType": "image/png"}));
        let mut material = json!({
            "name": if li == 0 { "main" } else { "background" },
            "pbrMetallicRoughness": {
                "baseColorTexture": {"index": images.len() - 1},
                "metallicFactor": 0.0,
                "roughnessFactor": 1.0
            },
            "doubleSided": true,
            "extensions": {"KHR_materials_unlit": {}}
        });
        if li > 0 {
            material["alphaMode"] = json!("MASK");
        }
        materials.push(material);
        meshes.push(json!({
            "name": if li == 0 { "main" } else { "background" },
            "primitives": [{
                "attributes": {"POSITION": pa, "TEXCOORD_0": uva},
                "indices": ia,
                "material": materials.len() - 1
            }]
        }));
        nodes.push(
            json!({"mesh": meshes.len() - 1, "name": if li == 0 { "main" } else { "background" }}),
        );
    }
    let yfov = 2.0 * (scene.height as f32 / 2.0 / scene.focal).atan();
    nodes.push(json!({"camera": 0, "name": "photo-viewpoint"}));
    let textures_json: Vec<Value> = (0..images.len())
        .map(|i| json!({"source": i, "sampler": 0}))
        .collect();
    let doc = json!({
        "asset": {"version": "2.0", "generator": "atelier-photo3d"},
        "extensionsUsed": ["KHR_materials_unlit"],
        "scene": 0,
        "scenes": [{"nodes": (0..nodes.len()).collect::<Vec<_>>()}],
        "nodes": nodes,
        "meshes": meshes,
        "materials": materials,
        "textures": textures_json,
        "samplers": [{"magFilter": 9729, "minFilter": 9729, "wrapS": 33071, "wrapT": 33071}],
        "images": images,
        "cameras": [{"type": "perspective", "perspective": {
            "yfov": yfov, "aspectRatio": scene.width as f32 / scene.height as f32,
            "znear": 0.05, "zfar": 1000.0
        }}],
        "accessors": b.accessors,
        "bufferViews": b.views,
        "buffers": [{"byteLength": b.bin.len()}],
    });
    let mut json_bytes =
        serde_json::to_vec(&doc).map_err(|e| Photo3dError::Encode(e.to_string()))?;
    while !json_bytes.len().is_multiple_of(4) {
        json_bytes.push(b' ');
    }
    let mut bin = b.bin;
    while !bin.len().is_multiple_of(4) {
        bin.push(0);
    }
    let total = 12 + 8 + json_bytes.len() + 8 + bin.len();
    let total = u32::try_from(total)
        .map_err(|_| Photo3dError::Encode("the scene is too large for one GLB".into()))?;
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&(json_bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&CHUNK_JSON.to_le_bytes());
    out.extend_from_slice(&json_bytes);
    out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
    out.extend_from_slice(&CHUNK_BIN.to_le_bytes());
    out.extend_from_slice(&bin);
    Ok(out)
}

/// What [`inspect`] found in a GLB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlbInfo {
    /// Number of meshes.
    pub meshes: usize,
    /// Vertices over all primitives.
    pub vertices: usize,
    /// Triangles over all primitives.
    pub triangles: usize,
    /// Embedded images, each decoded: `(width, height)`.
    pub images: Vec<(u32, u32)>,
}

fn bad(msg: impl Into<String>) -> Photo3dError {
    Photo3dError::Encode(format!("invalid GLB: {}", msg.into()))
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32, Photo3dError> {
    bytes
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| bad(format!("truncated at byte {at}")))
}

/// Parses a GLB and validates its structure (see the module docs).
pub fn inspect(bytes: &[u8]) -> Result<GlbInfo, Photo3dError> {
    if u32_at(bytes, 0)? != MAGIC || u32_at(bytes, 4)? != 2 {
        return Err(bad("not a glTF 2.0 binary"));
    }
    if u32_at(bytes, 8)? as usize != bytes.len() {
        return Err(bad("header length differs from the file length"));
    }
    let json_len = u32_at(bytes, 12)? as usize;
    if u32_at(bytes, 16)? != CHUNK_JSON || !json_len.is_multiple_of(4) {
        return Err(bad("first chunk is not an aligned JSON chunk"));
    }
    let json_bytes = bytes
        .get(20..20 + json_len)
        .ok_or_else(|| bad("JSON chunk truncated"))?;
    let doc: Value = serde_json::from_slice(json_bytes).map_err(|e| bad(e.to_string()))?;
    let bin_at = 20 + json_len;
    let bin_len = u32_at(bytes, bin_at)? as usize;
    if u32_at(bytes, bin_at + 4)? != CHUNK_BIN {
        return Err(bad("second chunk is not BIN"));
    }
    let bin = bytes
        .get(bin_at + 8..bin_at + 8 + bin_len)
        .ok_or_else(|| bad("BIN chunk truncated"))?;
    if doc["asset"]["version"] != "2.0" {
        return Err(bad("asset.version is not 2.0"));
    }
    let declared = doc["buffers"][0]["byteLength"]
        .as_u64()
        .ok_or_else(|| bad("no buffer"))? as usize;
    if declared > bin.len() {
        return Err(bad("buffer larger than the BIN chunk"));
    }
    let empty = Vec::new();
    let views = doc["bufferViews"].as_array().unwrap_or(&empty);
    let view_bytes = |i: &Value| -> Result<&[u8], Photo3dError> {
        let v = i
            .as_u64()
            .and_then(|i| views.get(i as usize))
            .ok_or_else(|| bad("bad bufferView index"))?;
        let off = v["byteOffset"].as_u64().unwrap_or(0) as usize;
        let len = v["byteLength"]
            .as_u64()
            .ok_or_else(|| bad("bufferView without byteLength"))? as usize;
        bin.get(off..off + len)
            .ok_or_else(|| bad("bufferView out of the buffer"))
    };
    let accessors = doc["accessors"].as_array().unwrap_or(&empty);
    let accessor = |i: &Value| -> Result<(&[u8], usize, usize), Photo3dError> {
        let a = i
            .as_u64()
            .and_then(|i| accessors.get(i as usize))
            .ok_or_else(|| bad("bad accessor index"))?;
        let data = view_bytes(&a["bufferView"])?;
        let count = a["count"]
            .as_u64()
            .ok_or_else(|| bad("accessor without count"))? as usize;
        let comps = match a["type"].as_str() {
            Some("SCALAR") => 1,
            Some("VEC2") => 2,
            Some("VEC3") => 3,
            _ => return Err(bad("unexpected accessor type")),
        };
        if count * comps * 4 > data.len() {
            return Err(bad("accessor runs past its bufferView"));
        }
        Ok((data, count, comps))
    };
    let mut info = GlbInfo {
        meshes: 0,
        vertices: 0,
        triangles: 0,
        images: Vec::new(),
    };
    for mesh in doc["meshes"].as_array().unwrap_or(&empty) {
        info.meshes += 1;
        for prim in mesh["primitives"].as_array().unwrap_or(&empty) {
            let (_, n, comps) = accessor(&prim["attributes"]["POSITION"])?;
            if comps != 3 {
                return Err(bad("POSITION is not VEC3"));
            }
            let (_, uvn, _) = accessor(&prim["attributes"]["TEXCOORD_0"])?;
            if uvn != n {
                return Err(bad("TEXCOORD_0 count differs from POSITION"));
            }
            let (data, count, _) = accessor(&prim["indices"])?;
            if !count.is_multiple_of(3) {
                return Err(bad("index count is not a multiple of 3"));
            }
            for k in 0..count {
                if u32_at(data, k * 4)? as usize >= n {
                    return Err(bad("index out of range"));
                }
            }
            info.vertices += n;
            info.triangles += count / 3;
        }
    }
    for img in doc["images"].as_array().unwrap_or(&empty) {
        let data = view_bytes(&img["bufferView"])?;
        let decoded = image::load_from_memory_with_format(data, image::ImageFormat::Png)
            .map_err(|e| bad(format!("embedded image: {e}")))?;
        info.images.push((decoded.width(), decoded.height()));
    }
    Ok(info)
}
