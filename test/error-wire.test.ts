/**
 * Errors thrown inside tasks and actors reach the driver with what a library put in them: a code the
 * core does not know (Data/Tune/Serve/Workflow codes, a user's own), the class name, message, cause
 * chain and remote stack. Known codes still come back as their RayError subclasses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { init, shutdown, get, RayError, InvalidArgumentError, TaskError, isRayError } from '@samsara/ray';
import { Cam, badArgument, cameraOffline, userTypeError } from './fixtures/error-tasks.js';

beforeAll(async () => {
  await init({ numCpus: 2 });
});
afterAll(async () => {
  await shutdown();
});

describe('error wire', () => {
  it('error wire - a library error thrown in a task keeps its code, class name, message, cause and stack', async () => {
    const err = await get(cameraOffline.remote('/dev/cam0')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isRayError(err)).toBe(true);
    expect(err).toBeInstanceOf(RayError);
    const e = err as RayError;
    expect(e.code).toBe('CAMERA_OFFLINE');
    expect(e.name).toBe('CameraOfflineError');
    expect(e.message).toBe('camera feed /dev/cam0 is offline. Plug the camera in.');
    expect(e.hint).toBe('Plug the camera in.');
    expect(e.ids.path).toBe('/dev/cam0');
    // the stack is the one captured where it was thrown, on the worker thread
    expect(e.stack).toMatch(/^CameraOfflineError: camera feed[^]*runTask/);
    const cause = e.cause as Error;
    expect(cause).toBeInstanceOf(Error);
    expect(cause.message).toBe('ENOENT: no such file /dev/cam0');
    expect(cause.stack).toMatch(/^Error: ENOENT[^]*runTask/);
  });

  it('error wire - an actor method throwing a library error keeps its code and name', async () => {
    const c = Cam.remote();
    const e = (await get(c.grab.remote()).catch((x: unknown) => x)) as RayError;
    expect(e.code).toBe('CAMERA_OFFLINE');
    expect(e.name).toBe('CameraOfflineError');
    expect(e.ids.camera).toBe('front');
  });

  it('error wire - known codes still come back as their subclasses; user errors as TaskError', async () => {
    const e = (await get(badArgument.remote()).catch((x: unknown) => x)) as InvalidArgumentError;
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.name).toBe('InvalidArgumentError');
    expect((e.cause as Error).name).toBe('RangeError');
    expect((e.cause as Error).message).toBe('n = -1');
    const t = (await get(userTypeError.remote()).catch((x: unknown) => x)) as TaskError;
    expect(t).toBeInstanceOf(TaskError);
    expect(t.code).toBe('TASK_ERROR');
    expect(t.originalName).toBe('TypeError');
  });
});
