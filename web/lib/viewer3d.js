// The in-page glTF viewer for 3D photos: three.js (vendored) with its GLTFLoader and
// OrbitControls; drag to turn, pinch or wheel to zoom. Loaded only when a 3D photo is opened.
import * as THREE from '../vendor/three/three.module.min.js';
import { GLTFLoader } from '../vendor/three/addons/loaders/GLTFLoader.js';
import { OrbitControls } from '../vendor/three/addons/controls/OrbitControls.js';

/**
 * Shows the `.glb` at `url` in `container`; resolves with a `dispose()` function once the
 * scene is loaded, rejects when WebGL is missing or the file cannot be read.
 */
export async function showGlb(container, url) {
  const canvas = document.createElement('canvas');
  canvas.className = 'viewer-canvas';
  container.append(canvas);
  let renderer;
  try {
    renderer = new THREE.WebGLRenderer({ canvas, antialias: true, alpha: true, preserveDrawingBuffer: true });
  } catch (err) {
    canvas.remove();
    throw new Error('webgl');
  }
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  const scene = new THREE.Scene();
  scene.add(new THREE.AmbientLight(0xffffff, 2.5));
  const camera = new THREE.PerspectiveCamera(45, 1, 0.01, 1000);
  const controls = new OrbitControls(camera, canvas);
  controls.enableDamping = true;
  const gltf = await new GLTFLoader().loadAsync(url);
  scene.add(gltf.scene);
  const box = new THREE.Box3().setFromObject(gltf.scene);
  const size = box.getSize(new THREE.Vector3()).length() || 1;
  const center = box.getCenter(new THREE.Vector3());
  const viewpoint = gltf.cameras && gltf.cameras[0];
  if (viewpoint && viewpoint.isPerspectiveCamera) {
    // atelier's 3D photos carry the photo's viewpoint: at the origin, looking down −Z.
    camera.fov = viewpoint.fov;
    camera.position.set(0, 0, 0);
    controls.target.set(0, 0, Math.min(-1, center.z));
  } else {
    controls.target.copy(center);
    camera.position.copy(center).add(new THREE.Vector3(0, 0, size * 0.9));
  }
  camera.near = 0.01;
  camera.far = size * 100 + 1000;
  camera.updateProjectionMatrix();
  const resize = () => {
    const width = container.clientWidth || 320;
    const height = Math.round(width * 0.66);
    renderer.setSize(width, height, false);
    canvas.style.width = '100%';
    canvas.style.height = `${height}px`;
    camera.aspect = width / height;
    camera.updateProjectionMatrix();
  };
  resize();
  const observer = new ResizeObserver(resize);
  observer.observe(container);
  let frame = 0;
  const loop = () => {
    controls.update();
    renderer.render(scene, camera);
    frame = requestAnimationFrame(loop);
  };
  loop();
  container.dataset.loaded = 'true';
  return () => {
    cancelAnimationFrame(frame);
    observer.disconnect();
    controls.dispose();
    renderer.dispose();
    canvas.remove();
  };
}
